package models

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// EnvelopeVersion is the version field of every envelope this service sends.
const EnvelopeVersion = 1

// TimestampLayout is the envelope's timestamp format: UTC with milliseconds.
const TimestampLayout = "2006-01-02T15:04:05.000Z"

// DefaultMaxPayloadBytes is the default limit on an event's payload.
const DefaultMaxPayloadBytes = 256 << 10

// Event is one support event accepted for delivery. Payload is the emitter's
// JSON object exactly as it arrived.
type Event struct {
	ID          string
	WorkspaceID string
	Type        EventType
	OccurredAt  time.Time
	Payload     json.RawMessage
	ReceivedAt  time.Time
}

// EmitRequest is what the platform sends to emit one event, over HTTP or
// through the Go package.
type EmitRequest struct {
	ID          string          `json:"id,omitempty"`
	Event       string          `json:"event"`
	WorkspaceID string          `json:"workspaceId,omitempty"`
	Timestamp   string          `json:"timestamp,omitempty"` // RFC 3339; default: now
	Payload     json.RawMessage `json:"payload"`
}

var (
	eventIDPattern     = regexp.MustCompile(`^evt_[A-Za-z0-9_-]{1,96}$`)
	workspaceIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// ValidateWorkspaceID checks the shape of a workspace id.
func ValidateWorkspaceID(id string) error {
	if id == "" {
		return Invalid("workspaceId", "is required")
	}
	if !workspaceIDPattern.MatchString(id) {
		return Invalid("workspaceId", "must be 1-64 letters, digits, '_' or '-'")
	}
	return nil
}

// EmitLimits are the deployment's limits on emitted events.
type EmitLimits struct {
	MaxPayloadBytes int
}

// NewEvent validates r and builds the event to store. keyWorkspace is the
// workspace the emitting key is bound to ("" for a platform key); newID makes
// an id when r has none; now is the acceptance time.
func NewEvent(r EmitRequest, keyWorkspace string, limits EmitLimits, newID func() string, now time.Time) (Event, error) {
	typ, err := ParseEmittedEvent(r.Event)
	if err != nil {
		return Event{}, err
	}
	ws := r.WorkspaceID
	switch {
	case ws == "" && keyWorkspace == "":
		return Event{}, Invalid("workspaceId", "is required for a key that is not bound to a workspace")
	case ws == "":
		ws = keyWorkspace
	case keyWorkspace != "" && ws != keyWorkspace:
		return Event{}, Invalid("workspaceId", "the API key may only emit events for its own workspace")
	}
	if err := ValidateWorkspaceID(ws); err != nil {
		return Event{}, err
	}
	id := r.ID
	if id == "" {
		id = newID()
	} else if !eventIDPattern.MatchString(id) {
		return Event{}, Invalid("id", "must look like evt_ followed by 1-96 letters, digits, '_' or '-'")
	}
	payload := bytes.TrimSpace(r.Payload)
	if len(payload) == 0 || bytes.Equal(payload, []byte("null")) {
		return Event{}, Invalid("payload", "is required and must be a JSON object")
	}
	max := limits.MaxPayloadBytes
	if max <= 0 {
		max = DefaultMaxPayloadBytes
	}
	if len(payload) > max {
		return Event{}, &TooLargeError{Field: "payload", Limit: max}
	}
	if payload[0] != '{' || !json.Valid(payload) {
		return Event{}, Invalid("payload", "must be a JSON object")
	}
	occurred := now
	if r.Timestamp != "" {
		t, err := time.Parse(time.RFC3339Nano, r.Timestamp)
		if err != nil {
			return Event{}, Invalid("timestamp", "must be an RFC 3339 time such as 2024-01-15T10:30:00.000Z")
		}
		occurred = t
	}
	return Event{
		ID:          id,
		WorkspaceID: ws,
		Type:        typ,
		OccurredAt:  occurred.UTC().Truncate(time.Millisecond),
		Payload:     json.RawMessage(payload),
		ReceivedAt:  now.UTC(),
	}, nil
}

// Body renders the envelope of SPEC §3 that a receiver gets. The payload is
// copied byte for byte, never re-encoded.
func (e Event) Body() []byte {
	var b strings.Builder
	b.Grow(len(e.Payload) + 128)
	b.WriteString(`{"event":`)
	wire, _ := json.Marshal(e.Type.Wire)
	b.Write(wire)
	b.WriteString(`,"version":`)
	b.WriteString(strconv.Itoa(EnvelopeVersion))
	b.WriteString(`,"timestamp":"`)
	b.WriteString(e.OccurredAt.UTC().Format(TimestampLayout))
	b.WriteString(`","payload":`)
	b.Write(e.Payload)
	b.WriteString(`}`)
	return []byte(b.String())
}
