package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
)

// BenchmarkDeliveryStatsMillionAttempts times GET /v1/webhooks/{id}/stats's
// query on PostgreSQL with a million attempts in the log: over the last
// seven days, all one webhook's or spread over a thousand webhooks; and
// over the last 24 hours, to one webhook. ns/op is a call after the
// first; first-call-ms is the first, which reads every day from the log.
//
//	go test ./store -run '^$' -bench DeliveryStatsMillion -benchtime 20x
func BenchmarkDeliveryStatsMillionAttempts(b *testing.B) {
	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	for _, bc := range []struct {
		name     string
		webhooks int
		from     time.Time
	}{
		{"one-webhook-over-7-days", 1, today.AddDate(0, 0, -6)},
		{"thousand-webhooks-over-7-days", 1000, today.AddDate(0, 0, -6)},
		// A webhook taking a million attempts a day: the current hour is
		// what a call reads from the log.
		{"one-webhook-last-24-hours", 1, now.Add(-24 * time.Hour)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			url := testenv.PostgresURL(b)
			st, err := store.Open(ctx, url, store.Options{EncryptionKey: testenv.EncryptionKey})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			if err := st.SeedAttemptsForBenchmark(ctx, 1_000_000, bc.webhooks, bc.from, now); err != nil {
				b.Fatal(err)
			}
			// The first call reads the six days that are over from the log and
			// keeps them; every later call reads only today.
			started := time.Now()
			if _, err := st.DeliveryStats(ctx, "wrk_bench", "wh_bench_0", now, models.StatsDays); err != nil {
				b.Fatal(err)
			}
			first := time.Since(started)
			for b.Loop() {
				days, err := st.DeliveryStats(ctx, "wrk_bench", "wh_bench_0", now, models.StatsDays)
				if err != nil {
					b.Fatal(err)
				}
				total := 0
				for _, d := range days {
					total += d.Delivered + d.Failed
				}
				if want := 1_000_000 / bc.webhooks; total != want {
					b.Fatalf("stats counted %d attempts, want about %d", total, want)
				}
			}
			b.ReportMetric(float64(first.Microseconds())/1000, "first-call-ms")
		})
	}
}
