package models

import (
	"encoding/json"
	"maps"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// WebhookStatus is ACTIVE or PAUSED.
type WebhookStatus string

const (
	WebhookActive WebhookStatus = "ACTIVE"
	WebhookPaused WebhookStatus = "PAUSED"
)

// ParseWebhookStatus accepts ACTIVE or PAUSED in any case.
func ParseWebhookStatus(s string) (WebhookStatus, error) {
	switch WebhookStatus(strings.ToUpper(strings.TrimSpace(s))) {
	case WebhookActive:
		return WebhookActive, nil
	case WebhookPaused:
		return WebhookPaused, nil
	}
	return "", Invalid("status", "must be ACTIVE or PAUSED")
}

// Limits on webhook fields.
const (
	MaxURLLength         = 2048
	MaxDisplayNameLength = 128
)

// Webhook is one customer endpoint subscribed to some of a workspace's events.
type Webhook struct {
	ID           string
	WorkspaceID  string
	URL          string
	DisplayName  string
	Status       WebhookStatus
	Events       []string // canonical subscription entries
	PausedReason string
	// PausedAt is when a paused webhook was paused; PauseAcknowledgedAt
	// when someone took note of it: at once for a pause asked for, nil
	// for an automatic one until it is acknowledged.
	PausedAt            *time.Time
	PauseAcknowledgedAt *time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
	LastAttemptedAt     *time.Time
	LastErrorAt         *time.Time
	LastErrorMessage    string
	// Headers are sent with every delivery (canonical names); Auth, when
	// set, authenticates deliveries to the endpoint. Both are stored
	// encrypted and shown masked.
	Headers map[string]string
	Auth    *EndpointAuth
	// Filters must all hold on an event's payload for the webhook to
	// receive it; decided when the event is processed, as the rest of
	// matching is.
	Filters []Filter
	// Throttle, when set, bounds the webhook's deliveries across workers.
	Throttle *Throttle
	// Ordering is OrderingConversation or "" (none).
	Ordering string
}

// URLPolicy says which webhook URLs a deployment accepts.
type URLPolicy struct {
	AllowHTTP bool // plain http:// (dev mode, tests)
}

// ValidateWebhookURL checks that raw is an absolute http(s) URL without
// credentials that the policy accepts.
func ValidateWebhookURL(raw string, p URLPolicy) error {
	if strings.TrimSpace(raw) == "" {
		return Invalid("url", "is required")
	}
	if len(raw) > MaxURLLength {
		return Invalid("url", "is longer than %d characters", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Invalid("url", "is not a valid URL")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowHTTP {
			return Invalid("url", "must use https")
		}
	default:
		return Invalid("url", "must be an http or https URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return Invalid("url", "must name a host")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return Invalid("url", "has port %q; a port is a number from 1 to 65535", port)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return Invalid("url", "has an empty port")
	}
	if u.User != nil {
		return Invalid("url", "must not contain credentials")
	}
	if u.Fragment != "" {
		return Invalid("url", "must not contain a fragment")
	}
	return nil
}

// NewWebhook is the input for creating a webhook.
type NewWebhook struct {
	URL         string
	DisplayName string
	Events      []string
	Status      string
	Headers     map[string]string
	Auth        *EndpointAuth
	Filters     []Filter
	Throttle    *Throttle
	Ordering    string
}

// Validate checks every field and returns the webhook to store (without id
// and times), events canonicalised and displayName defaulted to the host.
func (n NewWebhook) Validate(workspaceID string, p URLPolicy) (Webhook, error) {
	if err := ValidateWorkspaceID(workspaceID); err != nil {
		return Webhook{}, err
	}
	if err := ValidateWebhookURL(n.URL, p); err != nil {
		return Webhook{}, err
	}
	events, err := NormalizeSubscriptions(n.Events)
	if err != nil {
		return Webhook{}, err
	}
	status := WebhookActive
	if n.Status != "" {
		if status, err = ParseWebhookStatus(n.Status); err != nil {
			return Webhook{}, err
		}
	}
	name, err := displayName(n.DisplayName, n.URL)
	if err != nil {
		return Webhook{}, err
	}
	headers, err := NormalizeHeaders(n.Headers)
	if err != nil {
		return Webhook{}, err
	}
	if n.Auth != nil {
		if err := n.Auth.Validate(p); err != nil {
			return Webhook{}, err
		}
	}
	if err := CheckAuthorizationHeader(headers, n.Auth); err != nil {
		return Webhook{}, err
	}
	filters, err := NormalizeFilters(n.Filters)
	if err != nil {
		return Webhook{}, err
	}
	if n.Throttle != nil {
		if err := n.Throttle.Validate(); err != nil {
			return Webhook{}, err
		}
	}
	ordering, err := ParseOrdering(n.Ordering)
	if err != nil {
		return Webhook{}, err
	}
	w := Webhook{WorkspaceID: workspaceID, URL: n.URL, DisplayName: name, Status: status, Events: events, Headers: headers, Auth: n.Auth, Filters: filters, Throttle: n.Throttle, Ordering: ordering}
	if status == WebhookPaused {
		w.PausedReason = "paused on creation"
	}
	return w, nil
}

// Secret is one signing secret of a webhook. ExpiresAt is set on a secret
// that was rotated out and still signs until then.
type Secret struct {
	Value     string
	CreatedAt time.Time
	ExpiresAt *time.Time
}

// WebhookPatch is a partial update: nil fields are left as they are.
type WebhookPatch struct {
	URL         *string
	DisplayName *string
	Events      *[]string
	Status      *string
	// Headers merge into the webhook's headers as JSON merge patch does
	// (RFC 7396): a name with a nil value is removed, others are set.
	// ClearHeaders removes every header first.
	Headers      map[string]*string
	ClearHeaders bool
	// Auth replaces the endpoint authentication; ClearAuth removes it.
	Auth      *EndpointAuth
	ClearAuth bool
	// Filters replace the webhook's filters; an empty list removes them.
	Filters *[]Filter
	// Throttle replaces the webhook's throttle; ClearThrottle removes it.
	Throttle      *Throttle
	ClearThrottle bool
	Ordering      *string
}

// Empty reports whether the patch changes nothing.
func (p WebhookPatch) Empty() bool {
	return p.URL == nil && p.DisplayName == nil && p.Events == nil && p.Status == nil &&
		p.Headers == nil && !p.ClearHeaders && p.Auth == nil && !p.ClearAuth && p.Filters == nil &&
		p.Throttle == nil && !p.ClearThrottle && p.Ordering == nil
}

// Apply validates the patch and applies it to w. On error w is unchanged.
func (p WebhookPatch) Apply(w *Webhook, policy URLPolicy) error {
	if p.Empty() {
		return Invalid("", "the patch changes nothing: give url, displayName, events, status, headers, auth, filter, throttle or ordering")
	}
	next := *w
	if p.URL != nil {
		if err := ValidateWebhookURL(*p.URL, policy); err != nil {
			return err
		}
		if err := p.credentialsFollow(*w); err != nil {
			return err
		}
	}
	if err := p.applyEndpoint(&next, policy); err != nil {
		return err
	}
	if p.URL != nil {
		next.URL = *p.URL
	}
	if p.Events != nil {
		events, err := NormalizeSubscriptions(*p.Events)
		if err != nil {
			return err
		}
		next.Events = events
	}
	if p.Status != nil {
		status, err := ParseWebhookStatus(*p.Status)
		if err != nil {
			return err
		}
		if status != next.Status {
			// Resuming clears the reason: the store keeps an active
			// webhook without one, whoever resumes it.
			next.Status = status
			if status == WebhookPaused {
				next.PausedReason = "paused through the API"
			}
		}
	}
	if p.DisplayName != nil {
		name, err := displayName(*p.DisplayName, next.URL)
		if err != nil {
			return err
		}
		next.DisplayName = name
	}
	*w = next
	return nil
}

// credentialsFollow refuses a move of the URL to another origin that
// would carry w's stored credentials with it: its auth and the values of
// its headers, which the API never shows, would be sent to whoever
// answers there. The same patch must give them again (or remove them).
func (p WebhookPatch) credentialsFollow(w Webhook) error {
	if Origin(*p.URL) == Origin(w.URL) {
		return nil
	}
	var kept []string
	if w.Auth != nil && p.Auth == nil && !p.ClearAuth {
		kept = append(kept, "auth")
	}
	if !p.ClearHeaders {
		given := map[string]bool{}
		for name := range p.Headers {
			given[textproto.CanonicalMIMEHeaderKey(name)] = true
		}
		var names []string
		for name := range w.Headers {
			if !given[name] {
				names = append(names, name)
			}
		}
		if len(names) > 0 {
			slices.Sort(names)
			kept = append(kept, "headers "+strings.Join(names, ", "))
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return Invalid("url", "moves the webhook to another origin (%s), where its stored %s would be sent; give them again in the same request, or remove them (\"auth\": null, a header set to null)",
		Origin(*p.URL), strings.Join(kept, " and "))
}

// Origin is a URL's scheme and host (with a port only where it is not the
// scheme's default), lower-cased; "" for a URL that does not parse.
func Origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

// applyEndpoint applies the patch's headers and auth to w.
func (p WebhookPatch) applyEndpoint(w *Webhook, policy URLPolicy) error {
	if p.ClearHeaders || p.Headers != nil {
		merged := map[string]string{}
		if !p.ClearHeaders {
			maps.Copy(merged, w.Headers)
		}
		for name, value := range p.Headers {
			canonical := textproto.CanonicalMIMEHeaderKey(name)
			if value == nil {
				delete(merged, canonical)
				continue
			}
			merged[canonical] = *value
		}
		headers, err := NormalizeHeaders(merged)
		if err != nil {
			return err
		}
		w.Headers = headers
	}
	switch {
	case p.ClearThrottle:
		w.Throttle = nil
	case p.Throttle != nil:
		if err := p.Throttle.Validate(); err != nil {
			return err
		}
		w.Throttle = p.Throttle
	}
	if p.Ordering != nil {
		ordering, err := ParseOrdering(*p.Ordering)
		if err != nil {
			return err
		}
		w.Ordering = ordering
	}
	if p.Filters != nil {
		filters, err := NormalizeFilters(*p.Filters)
		if err != nil {
			return err
		}
		w.Filters = filters
	}
	switch {
	case p.ClearAuth:
		w.Auth = nil
	case p.Auth != nil:
		if err := p.Auth.Validate(policy); err != nil {
			return err
		}
		w.Auth = p.Auth
	}
	return CheckAuthorizationHeader(w.Headers, w.Auth)
}

// displayName is a webhook's display name as given, trimmed, or its URL's
// host when none is given.
func displayName(given, rawURL string) (string, error) {
	name := strings.TrimSpace(given)
	if len(name) > MaxDisplayNameLength {
		return "", Invalid("displayName", "is longer than %d characters", MaxDisplayNameLength)
	}
	if name == "" {
		u, _ := url.Parse(rawURL)
		name = u.Hostname()
	}
	return name, nil
}

// Orderings of a webhook's deliveries.
const (
	OrderingNone         = "none"
	OrderingConversation = "conversation"
)

// ParseOrdering accepts none or conversation; it returns "" for none.
func ParseOrdering(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case OrderingNone, "":
		return "", nil
	case OrderingConversation:
		return OrderingConversation, nil
	}
	return "", Invalid("ordering", "must be none or conversation")
}

// MaxConversationID is the longest conversation id ordering keys on; an
// event naming a longer one is delivered unordered.
const MaxConversationID = 200

// ConversationOf returns the conversation an event's payload belongs to:
// payload.conversation.id, or payload.message.conversationId; "" for none
// (contacts, say).
func ConversationOf(payload []byte) string {
	var p struct {
		Conversation struct {
			ID any `json:"id"`
		} `json:"conversation"`
		Message struct {
			ConversationID any `json:"conversationId"`
		} `json:"message"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return ""
	}
	for _, v := range []any{p.Conversation.ID, p.Message.ConversationID} {
		if id, ok := v.(string); ok && id != "" && len(id) <= MaxConversationID && utf8.ValidString(id) {
			return id
		}
	}
	return ""
}

// Match is what matching an event found: the webhooks to deliver it to,
// those of them that take the conversation's events in order, and the
// event's conversation ("" for none: then nothing is ordered).
type Match struct {
	WebhookIDs     []string
	Ordered        []string
	ConversationID string
	Seq            int64 // the event's place in the order events were stored in
}

// Subscribed reports whether the webhook is subscribed to event type e.
func (w Webhook) Subscribed(e EventType) bool {
	for _, p := range SubscriptionPatterns(e) {
		if slices.Contains(w.Events, p) {
			return true
		}
	}
	return false
}
