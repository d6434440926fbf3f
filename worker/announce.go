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

// SweepAnnouncements publishes every webhook.paused event stored since
// `since`. The activity that paused the webhook publishes its event at
// once; this is the outbox relay for one it could not (Temporal was
// unreachable, the worker stopped in between). Publishing is idempotent,
// so publishing one already on its way delivers it once; the lookback is
// shorter than any namespace retention, within which a start is refused
// as a duplicate.
func SweepAnnouncements(ctx context.Context, st AnnouncementStore, p Publisher, since time.Time) (int, error) {
	events, err := st.PauseAnnouncements(ctx, since)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	if err := p.Publish(ctx, events); err != nil {
		return 0, err
	}
	return len(events), nil
}

// RunAnnouncer sweeps for unpublished announcements every interval until
// ctx ends.
func RunAnnouncer(ctx context.Context, st AnnouncementStore, p Publisher, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := SweepAnnouncements(ctx, st, p, time.Now().Add(-SweepLookback)); err != nil && ctx.Err() == nil {
			logger.Warn("sweep for webhook.paused announcements", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
