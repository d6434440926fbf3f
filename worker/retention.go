package worker

import (
	"context"
	"log/slog"
	"time"
)

// Pruner removes delivery log entries and events older than a time, a
// bounded batch per call, and says how many it removed.
type Pruner interface {
	PruneLog(ctx context.Context, before time.Time, batch int) (int, error)
}

// Retention settings.
const (
	DefaultRetention = 30 * 24 * time.Hour
	PruneBatch       = 1000
	PruneEvery       = time.Hour
)

// PruneOnce removes everything older than retention, a batch at a time,
// and returns how much it removed. Batches are short transactions, so the
// log stays writable while it runs.
func PruneOnce(ctx context.Context, p Pruner, retention time.Duration, now time.Time) (int, error) {
	before := now.Add(-retention)
	total := 0
	for {
		n, err := p.PruneLog(ctx, before, PruneBatch)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// RunRetention prunes at start and then every interval until ctx ends. Any
// number of workers may run it at once: pruning is idempotent.
func RunRetention(ctx context.Context, p Pruner, retention, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := PruneOnce(ctx, p, retention, time.Now())
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			logger.Warn("prune delivery log", "error", err)
		case n > 0:
			logger.Info("pruned delivery log", "removed", n, "retention", retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
