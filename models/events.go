package models

import (
	"fmt"
	"slices"
	"strings"
)

// EventType is one kind of support event. Name is the enum name used in
// subscriptions and the API (CONVERSATION_CREATED); Wire is the dotted name
// a receiver sees in the envelope (conversation.created).
type EventType struct {
	Name   string
	Wire   string
	Family string
}

// The catalog of SPEC §2. Order is the order the API and dashboard list them.
var catalog = []EventType{
	{Name: "CONVERSATION_CREATED", Wire: "conversation.created", Family: "conversation"},
	{Name: "CONVERSATION_UPDATED", Wire: "conversation.updated", Family: "conversation"},
	{Name: "CONVERSATION_ASSIGNED", Wire: "conversation.assigned", Family: "conversation"},
	{Name: "CONVERSATION_CLOSED", Wire: "conversation.closed", Family: "conversation"},
	{Name: "CONVERSATION_REOPENED", Wire: "conversation.reopened", Family: "conversation"},
	{Name: "MESSAGE_CREATED", Wire: "message.received", Family: "message"},
	{Name: "MESSAGE_UPDATED", Wire: "message.updated", Family: "message"},
	{Name: "CONTACT_CREATED", Wire: "contact.created", Family: "contact"},
	{Name: "SIGNAL_CREATED", Wire: "signal.created", Family: "signal"},
	{Name: "SIGNAL_UPDATED", Wire: "signal.updated", Family: "signal"},
}

// WebhookPausedEvent is the operational event the service emits itself when it
// pauses a webhook automatically (auto-pause or 410). It is never emitted
// by the platform and reaches only the webhooks that name it or its family:
// "*" does not cover it.
var WebhookPausedEvent = EventType{Name: "WEBHOOK_PAUSED", Wire: "webhook.paused", Family: "webhook"}

// operational are the events the service emits about itself, in their
// listed order.
var operational = []EventType{WebhookPausedEvent}

// TestingConnection is reserved for "test this webhook": never emitted by
// the platform, never named in a subscription.
var TestingConnection = EventType{Name: "TESTING_CONNECTION", Wire: "testing.connection", Family: "testing"}

// aliases are extra wire names accepted on input.
var aliases = map[string]string{"message.created": "MESSAGE_CREATED"}

// families are the names a subscription may use for a whole family; the
// operational family is last.
var families = []string{"conversation", "message", "contact", "signal", "webhook"}

// AllEvents is the subscription that matches every event.
const AllEvents = "*"

// Catalog returns the emittable event types in their listed order.
func Catalog() []EventType { return slices.Clone(catalog) }

// Operational returns the events the service emits about itself.
func Operational() []EventType { return slices.Clone(operational) }

// IsOperational reports whether e is an event the service emits about
// itself: never emitted by the platform, never covered by "*".
func (e EventType) IsOperational() bool { return slices.Contains(operational, e) }

// Families returns the family names a subscription may use.
func Families() []string { return slices.Clone(families) }

// LookupEvent finds an event type by enum or wire name (or alias),
// case-insensitively. TESTING_CONNECTION is found too; callers that take
// events from the platform or from subscriptions must refuse it.
func LookupEvent(name string) (EventType, bool) {
	n := strings.TrimSpace(name)
	for _, e := range slices.Concat(catalog, operational) {
		if strings.EqualFold(n, e.Name) || strings.EqualFold(n, e.Wire) {
			return e, true
		}
	}
	if enum, ok := aliases[strings.ToLower(n)]; ok {
		return LookupEvent(enum)
	}
	if strings.EqualFold(n, TestingConnection.Name) || strings.EqualFold(n, TestingConnection.Wire) {
		return TestingConnection, true
	}
	return EventType{}, false
}

// ParseEmittedEvent resolves an event name sent by the platform.
func ParseEmittedEvent(name string) (EventType, error) {
	if strings.TrimSpace(name) == "" {
		return EventType{}, Invalid("event", "is required")
	}
	e, ok := LookupEvent(name)
	if !ok {
		return EventType{}, Invalid("event", "unknown event %q", name)
	}
	if e == TestingConnection {
		return EventType{}, Invalid("event", "%q is reserved for webhook tests and cannot be emitted", name)
	}
	if e.IsOperational() {
		return EventType{}, Invalid("event", "%q is emitted by the webhook service itself and cannot be emitted", name)
	}
	return e, nil
}

// NormalizeSubscription turns one subscription entry in any accepted form
// (CONVERSATION_CREATED, conversation.created, conversation.*,
// CONVERSATION_*, *) into its canonical stored form: an enum name, a family
// pattern in enum form (CONVERSATION_*), or "*".
func NormalizeSubscription(entry string) (string, error) {
	s := strings.TrimSpace(entry)
	if s == AllEvents {
		return AllEvents, nil
	}
	lower := strings.ToLower(s)
	for _, f := range families {
		if lower == f+".*" || lower == f+"_*" {
			return strings.ToUpper(f) + "_*", nil
		}
	}
	e, ok := LookupEvent(s)
	if !ok {
		return "", fmt.Errorf("unknown event %q", entry)
	}
	if e == TestingConnection {
		return "", fmt.Errorf("%q is reserved and cannot be subscribed to", entry)
	}
	return e.Name, nil
}

// NormalizeSubscriptions validates and canonicalises a subscription list:
// at least one entry, no unknown names, duplicates removed, order kept.
func NormalizeSubscriptions(entries []string) ([]string, error) {
	if len(entries) == 0 {
		return nil, Invalid("events", "must name at least one event")
	}
	if len(entries) > MaxSubscriptionEntries {
		return nil, Invalid("events", "names %d entries; at most %d are allowed", len(entries), MaxSubscriptionEntries)
	}
	out := make([]string, 0, len(entries))
	for i, entry := range entries {
		n, err := NormalizeSubscription(entry)
		if err != nil {
			return nil, Invalid(fmt.Sprintf("events[%d]", i), "%s", err.Error())
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// MaxSubscriptionEntries bounds a webhook's event list.
const MaxSubscriptionEntries = 64

// SubscriptionPatterns returns every canonical subscription entry that
// matches e: its enum name, its family pattern and "*" (not for an
// operational event: a subscription opts in to those by name or family).
// Storage uses it to find matching webhooks with an index instead of
// scanning.
func SubscriptionPatterns(e EventType) []string {
	if e.IsOperational() {
		return []string{e.Name, strings.ToUpper(e.Family) + "_*"}
	}
	return []string{e.Name, strings.ToUpper(e.Family) + "_*", AllEvents}
}
