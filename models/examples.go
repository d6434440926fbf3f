package models

import "encoding/json"

// About is what the event catalog says of one event type: what it means
// and an example of the payload a receiver gets with it.
type About struct {
	Description string
	Example     json.RawMessage // a JSON object
}

// about holds the catalog's words for every subscribable event, by enum
// name. The examples use the shapes TidySupport's platform emits; ids are
// made up.
var about = map[string]About{
	"CONVERSATION_CREATED": {"A customer started a conversation.",
		json.RawMessage(`{"conversation":{"id":"cnv_example1","workspaceId":"wrk_example","inboxId":"inb_support","contactId":"cnt_example1","channel":"email","subject":"Refund for order 1042","status":"open","createdAt":"2024-01-15T10:30:00.000Z"}}`)},
	"CONVERSATION_UPDATED": {"A conversation changed: its subject, tags, priority or custom fields.",
		json.RawMessage(`{"conversation":{"id":"cnv_example1","workspaceId":"wrk_example","inboxId":"inb_support","subject":"Refund for order 1042","tags":["billing"],"priority":"high"},"changes":["tags","priority"]}`)},
	"CONVERSATION_ASSIGNED": {"A conversation was assigned to a teammate or a team.",
		json.RawMessage(`{"conversation":{"id":"cnv_example1","workspaceId":"wrk_example","inboxId":"inb_support"},"assignee":{"type":"user","id":"usr_example1","name":"Alex Doe"}}`)},
	"CONVERSATION_CLOSED": {"The team resolved a conversation.",
		json.RawMessage(`{"conversation":{"id":"cnv_example1","workspaceId":"wrk_example","inboxId":"inb_support","status":"closed","closedAt":"2024-01-15T11:02:00.000Z"},"closedBy":{"type":"user","id":"usr_example1"}}`)},
	"CONVERSATION_REOPENED": {"A closed conversation was reopened, by the customer writing again or by a teammate.",
		json.RawMessage(`{"conversation":{"id":"cnv_example1","workspaceId":"wrk_example","inboxId":"inb_support","status":"open"},"reopenedBy":{"type":"contact","id":"cnt_example1"}}`)},
	"MESSAGE_CREATED": {"A new message arrived from a customer.",
		json.RawMessage(`{"message":{"id":"msg_example1","conversationId":"cnv_example1","workspaceId":"wrk_example","author":{"type":"contact","id":"cnt_example1"},"channel":"email","text":"Hi, I was charged twice for order 1042.","createdAt":"2024-01-15T10:30:00.000Z"}}`)},
	"MESSAGE_UPDATED": {"A message was edited.",
		json.RawMessage(`{"message":{"id":"msg_example1","conversationId":"cnv_example1","workspaceId":"wrk_example","text":"Hi, I was charged twice for order 1042 (card ending 4242).","updatedAt":"2024-01-15T10:31:00.000Z"}}`)},
	"CONTACT_CREATED": {"A contact was added to the workspace.",
		json.RawMessage(`{"contact":{"id":"cnt_example1","workspaceId":"wrk_example","name":"Sam Rivera","email":"sam@example.com","tags":["vip"],"createdAt":"2024-01-15T10:29:58.000Z"}}`)},
	"SIGNAL_CREATED": {"An AI support signal was created: a trend, a risk or an opportunity found in conversations.",
		json.RawMessage(`{"signal":{"id":"sig_example1","workspaceId":"wrk_example","kind":"churn_risk","summary":"Three customers mention double charges this week.","conversationIds":["cnv_example1","cnv_example2","cnv_example3"],"createdAt":"2024-01-15T12:00:00.000Z"}}`)},
	"SIGNAL_UPDATED": {"An AI support signal was updated: new conversations joined it or its status changed.",
		json.RawMessage(`{"signal":{"id":"sig_example1","workspaceId":"wrk_example","kind":"churn_risk","status":"acknowledged","conversationIds":["cnv_example1","cnv_example2","cnv_example3","cnv_example4"]}}`)},
	"WEBHOOK_PAUSED": {"Operational: another webhook of the workspace was paused automatically, because its endpoint answered 410 Gone or every attempt failed for days. Sent only to webhooks that subscribe to it by name or family.",
		json.RawMessage(`{"webhook":{"id":"wh_example1","url":"https://example.com/hooks/tidysupport","displayName":"CRM sync"},"reason":"endpoint answered 410 Gone","pausedAt":"2024-01-15T10:30:00.000Z"}`)},
}

// Describe returns the catalog's description and example payload of e.
func Describe(e EventType) About { return about[e.Name] }
