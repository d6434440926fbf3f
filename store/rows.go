package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tidysupport/tidyhooks/models"
)

var (
	errNotFound = models.ErrNotFound
	errConflict = models.ErrConflict
)

type eventRow struct {
	ID          string `gorm:"primaryKey"`
	WorkspaceID string `gorm:"primaryKey"`
	Type        string
	OccurredAt  time.Time
	ReceivedAt  time.Time
	Payload     string
	// ConversationID is the conversation the payload names, if any
	// (models.ConversationOf), for ordered delivery.
	ConversationID *string
}

func (eventRow) TableName() string { return "events" }

func eventToRow(e models.Event) eventRow {
	r := eventRow{
		ID:          e.ID,
		WorkspaceID: e.WorkspaceID,
		Type:        e.Type.Name,
		OccurredAt:  e.OccurredAt.UTC(),
		ReceivedAt:  e.ReceivedAt.UTC(),
		Payload:     string(e.Payload),
	}
	if c := models.ConversationOf(e.Payload); c != "" {
		r.ConversationID = &c
	}
	return r
}

func (r eventRow) model() (models.Event, error) {
	typ, ok := models.LookupEvent(r.Type)
	if !ok {
		return models.Event{}, fmt.Errorf("event %s has unknown type %q", r.ID, r.Type)
	}
	return models.Event{
		ID:          r.ID,
		WorkspaceID: r.WorkspaceID,
		Type:        typ,
		OccurredAt:  r.OccurredAt.UTC(),
		ReceivedAt:  r.ReceivedAt.UTC(),
		Payload:     json.RawMessage(r.Payload),
	}, nil
}

type webhookRow struct {
	ID                  string `gorm:"primaryKey"`
	WorkspaceID         string
	URL                 string `gorm:"column:url"`
	DisplayName         string
	Status              string
	PausedReason        string
	PausedAt            *time.Time
	PauseAcknowledgedAt *time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
	LastAttemptedAt     *time.Time
	LastErrorAt         *time.Time
	LastErrorMessage    string
	// Endpoint is the sealed endpointConfig (sealEndpoint, openEndpoint).
	Endpoint *string
	// Filters is the JSON of the webhook's payload filters.
	Filters *string
	// MaxPerSecond and MaxInFlight are its throttle; both nil when off.
	MaxPerSecond *float64
	MaxInFlight  *int
	Ordering     *string // "conversation" or nil
	// Subscriptions are read with the webhook (preloadSubscriptions) and
	// written apart from it (subscriptionRows).
	Subscriptions []subscriptionRow `gorm:"foreignKey:WebhookID;references:ID"`
}

func (webhookRow) TableName() string { return "webhooks" }

func webhookToRow(w models.Webhook) webhookRow {
	return webhookRow{
		ID:                  w.ID,
		WorkspaceID:         w.WorkspaceID,
		URL:                 w.URL,
		DisplayName:         w.DisplayName,
		Status:              string(w.Status),
		PausedReason:        w.PausedReason,
		PausedAt:            utcPtr(w.PausedAt),
		PauseAcknowledgedAt: utcPtr(w.PauseAcknowledgedAt),
		CreatedAt:           w.CreatedAt.UTC(),
		UpdatedAt:           w.UpdatedAt.UTC(),
		LastAttemptedAt:     utcPtr(w.LastAttemptedAt),
		LastErrorAt:         utcPtr(w.LastErrorAt),
		LastErrorMessage:    w.LastErrorMessage,
		Filters:             filtersJSON(w.Filters),
		MaxPerSecond:        throttleRate(w.Throttle),
		MaxInFlight:         throttleConc(w.Throttle),
		Ordering:            nilIfEmpty(w.Ordering),
	}
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func throttleRate(t *models.Throttle) *float64 {
	if t == nil || t.MaxPerSecond == 0 {
		return nil
	}
	return &t.MaxPerSecond
}

func throttleConc(t *models.Throttle) *int {
	if t == nil || t.MaxInFlight == 0 {
		return nil
	}
	return &t.MaxInFlight
}

// filtersJSON is the filters column's value: nil without filters.
func filtersJSON(fs []models.Filter) *string {
	if len(fs) == 0 {
		return nil
	}
	b, _ := json.Marshal(fs) // of validated filters: raw values are valid JSON
	s := string(b)
	return &s
}

// readFilters reads the filters column.
func readFilters(col *string) ([]models.Filter, error) {
	if col == nil {
		return nil, nil
	}
	var fs []models.Filter
	if err := json.Unmarshal([]byte(*col), &fs); err != nil {
		return nil, fmt.Errorf("stored filters: %w", err)
	}
	return fs, nil
}

func (r webhookRow) model() models.Webhook {
	var events []string
	for _, s := range r.Subscriptions {
		events = append(events, s.Pattern)
	}
	return models.Webhook{
		ID:                  r.ID,
		WorkspaceID:         r.WorkspaceID,
		URL:                 r.URL,
		DisplayName:         r.DisplayName,
		Status:              models.WebhookStatus(r.Status),
		Events:              events,
		PausedReason:        r.PausedReason,
		PausedAt:            utcPtr(r.PausedAt),
		PauseAcknowledgedAt: utcPtr(r.PauseAcknowledgedAt),
		CreatedAt:           r.CreatedAt.UTC(),
		UpdatedAt:           r.UpdatedAt.UTC(),
		LastAttemptedAt:     utcPtr(r.LastAttemptedAt),
		LastErrorAt:         utcPtr(r.LastErrorAt),
		LastErrorMessage:    r.LastErrorMessage,
		Throttle:            readThrottle(r.MaxPerSecond, r.MaxInFlight),
		Ordering:            deref(r.Ordering),
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func readThrottle(rate *float64, conc *int) *models.Throttle {
	if rate == nil && conc == nil {
		return nil
	}
	t := &models.Throttle{}
	if rate != nil {
		t.MaxPerSecond = *rate
	}
	if conc != nil {
		t.MaxInFlight = *conc
	}
	return t
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// subscriptionRow is one entry of a webhook's subscription list, at its
// place in the list: the only record of what a webhook subscribes to.
type subscriptionRow struct {
	WebhookID   string `gorm:"primaryKey"`
	WorkspaceID string
	Pattern     string `gorm:"primaryKey"`
	Position    int
}

func (subscriptionRow) TableName() string { return "webhook_subscriptions" }

type secretRow struct {
	ID        int64 `gorm:"primaryKey"`
	WebhookID string
	Secret    string
	CreatedAt time.Time
	ExpiresAt *time.Time
}

func (secretRow) TableName() string { return "webhook_secrets" }

type apiKeyRow struct {
	ID          string `gorm:"primaryKey"`
	Hash        []byte
	Prefix      string
	WorkspaceID string
	Scopes      string
	Name        string
	CreatedAt   time.Time
	RevokedAt   *time.Time
}

func (apiKeyRow) TableName() string { return "api_keys" }

// page turns up to limit+1 rows, read in listing order, into a page of at
// most limit items whose cursor resumes after the last one.
func page[R any, M any](rows []R, limit int, id func(R) string, model func(R) M) models.Page[M] {
	p := models.Page[M]{Items: make([]M, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			p.NextCursor = models.EncodeCursor(id(rows[i-1]))
			break
		}
		p.Items = append(p.Items, model(r))
	}
	return p
}
