package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/tidysupport/tidyhooks/models"
)

// AnnouncementStore finds the webhook.paused events stored with automatic
// pauses.
type AnnouncementStore interface {
	PauseAnnouncements(ctx context.Context, since time.Time) ([]models.Event, error)
}

// Publisher publishes events: stores them and starts their delivery, once
// however often it is asked (the emitter).
type Publisher interface {
	Publish(ctx context.Context, events []models.Event) error
}

// Announcements is the outbox relay for webhook.paused events: the activity
// that paused a webhook publishes its event at once, and this publishes one
// it could not (Temporal was unreachable, the worker stopped in between).
// Publishing is idempotent, so one already on its way is delivered once;
// the lookback is shorter than any namespace retention, within which a
// second start is refused as a duplicate. Each is published at most once
// per sweeping process, so a sweep costs a query and nothing more once
// they are all out.
type Announcements struct {
	store     AnnouncementStore
	publisher Publisher
	published map[string]time.Time // event id → when it was received
}

// NewAnnouncements relays st's announcements through p.
func NewAnnouncements(st AnnouncementStore, p Publisher) *Announcements {
	return &Announcements{store: st, publisher: p, published: map[string]time.Time{}}
}

// Sweep publishes every announcement stored since `since` that this
// process has not published yet, and returns how many it published.
func (a *Announcements) Sweep(ctx context.Context, since time.Time) (int, error) {
	for id, at := range a.published {
		if at.Before(since) {
			delete(a.published, id)
		}
	}
	events, err := a.store.PauseAnnouncements(ctx, since)
	if err != nil {
		return 0, err
	}
	var todo []models.Event
	for _, ev := range events {
		if _, done := a.published[ev.ID]; !done {
			todo = append(todo, ev)
		}
	}
	if len(todo) == 0 {
		return 0, nil
	}
	if err := a.publisher.Publish(ctx, todo); err != nil {
		return 0, err
	}
	for _, ev := range todo {
		a.published[ev.ID] = ev.ReceivedAt
	}
	return len(todo), nil
}

// Run sweeps every interval until ctx ends.
func (a *Announcements) Run(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := a.Sweep(ctx, time.Now().Add(-SweepLookback)); err != nil && ctx.Err() == nil {
			logger.Warn("sweep for webhook.paused announcements", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
