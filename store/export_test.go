package store

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// SeedAttemptsForBenchmark inserts n finished attempts on PostgreSQL,
// spread evenly from first to now and over webhooks wh_bench_0 …
// wh_bench_{webhooks-1} of workspace wrk_bench: one in ten failed,
// latencies 0–999 ms.
func (s *Store) SeedAttemptsForBenchmark(ctx context.Context, n, webhooks int, first, now time.Time) error {
	db := s.db.WithContext(ctx)
	secs := max(int(now.Sub(first).Seconds()), 1)
	err := db.Exec(`INSERT INTO webhooks (id, workspace_id, url, display_name, status, created_at, updated_at)
		SELECT 'wh_bench_' || g, 'wrk_bench', 'https://example.com/hook', 'bench', 'ACTIVE', ?, ?
		FROM generate_series(0, ? - 1) AS g`, first, first, webhooks).Error
	if err != nil {
		return err
	}
	err = db.Exec(`INSERT INTO delivery_attempts (delivery_id, webhook_id, number, trigger, outcome, started_at, finished_at,
			latency_ms, workflow_id, run_id)
		SELECT 'dlv_' || g, 'wh_bench_' || (g % ?), 1, 'scheduled',
			CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'delivered' END,
			?::timestamptz + (g % ?) * interval '1 second', ?::timestamptz + (g % ?) * interval '1 second',
			(g::bigint * 7919) % 1000, 'wf', 'run'
		FROM generate_series(1, ?) AS g`, webhooks, first, secs, first, secs, n).Error
	if err != nil {
		return err
	}
	return db.Exec("VACUUM ANALYZE delivery_attempts").Error
}

// MigrateAsBefore brings a fresh database to version upTo as versions
// before goose did: each migration's statements split on the semicolons
// that end a line, and a schema_migrations row naming its file.
func (s *Store) MigrateAsBefore(ctx context.Context, upTo int) error {
	db := s.db.WithContext(ctx)
	if err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`).Error; err != nil {
		return err
	}
	entries, err := fs.ReadDir(migrations, "migrations/"+s.dialect)
	if err != nil {
		return err
	}
	for i, e := range entries[:upTo] {
		b, err := fs.ReadFile(migrations, "migrations/"+s.dialect+"/"+e.Name())
		if err != nil {
			return err
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
				lines = append(lines, l)
			}
		}
		for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";\n") {
			if stmt = strings.TrimSuffix(strings.TrimSpace(stmt), ";"); stmt != "" {
				if err := db.Exec(stmt).Error; err != nil {
					return fmt.Errorf("%s: %w", e.Name(), err)
				}
			}
		}
		if err := db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", i+1, e.Name(), "2026-11-30T12:00:00Z").Error; err != nil {
			return err
		}
	}
	return nil
}

// InsertWebhookAsBefore writes a webhook as versions before 0006 did:
// its subscriptions both in webhooks.events and, unordered, in
// webhook_subscriptions.
func (s *Store) InsertWebhookAsBefore(ctx context.Context, id, workspaceID, url string, events []string) error {
	db := s.db.WithContext(ctx)
	now := time.Now().UTC()
	err := db.Exec(`INSERT INTO webhooks (id, workspace_id, url, display_name, status, events, created_at, updated_at)
		VALUES (?, ?, ?, 'before', 'ACTIVE', ?, ?, ?)`, id, workspaceID, url, strings.Join(events, ","), now, now).Error
	if err != nil {
		return err
	}
	for _, p := range events {
		if err := db.Exec("INSERT INTO webhook_subscriptions (webhook_id, workspace_id, pattern) VALUES (?, ?, ?)", id, workspaceID, p).Error; err != nil {
			return err
		}
	}
	return nil
}

// MigrationNames lists schema_migrations' names in version order.
func (s *Store) MigrationNames(ctx context.Context) ([]string, error) {
	var names []string
	err := s.db.WithContext(ctx).Raw("SELECT name FROM schema_migrations ORDER BY version").Scan(&names).Error
	return names, err
}

// InsertEventAsBefore writes an event as versions before 0009 did: no
// conversation, no order of its own.
func (s *Store) InsertEventAsBefore(ctx context.Context, workspaceID, id string) error {
	return s.db.WithContext(ctx).Exec(`INSERT INTO events (id, workspace_id, type, occurred_at, received_at, payload)
		VALUES (?, ?, 'CONTACT_CREATED', ?, ?, '{}')`, id, workspaceID, time.Now().UTC(), time.Now().UTC()).Error
}

// SetClock makes the store read the time from now.
func (s *Store) SetClock(now func() time.Time) { s.now = now }
