package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
)

// start is an attempt of event to webhook w at time at.
func start(w models.Webhook, event string, trigger models.AttemptTrigger, at time.Time) models.AttemptStart {
	return models.AttemptStart{
		WorkspaceID: w.WorkspaceID, WebhookID: w.ID, EventID: event, EventType: "contact.created",
		Trigger: trigger, StartedAt: at, WorkflowID: event, RunID: "run-1",
	}
}

func begin(t *testing.T, st *store.Store, a models.AttemptStart) models.AttemptRef {
	t.Helper()
	ref, err := st.BeginAttempt(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func finish(t *testing.T, st *store.Store, e models.AttemptEnd) {
	t.Helper()
	if err := st.FinishAttempt(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func delivery(t *testing.T, st *store.Store, ws, id string) models.Delivery {
	t.Helper()
	d, err := st.Delivery(context.Background(), ws, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDeliveryLogRecordsEveryAttempt(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "*")
		t0 := time.Now().UTC().Truncate(time.Millisecond)

		// Attempt 1 fails with a retry due; attempt 2 is lost with its
		// worker; attempt 3 marks it unknown and succeeds.
		ref1 := begin(t, st, start(w, "evt_1", models.TriggerScheduled, t0))
		if ref1.Number != 1 || !strings.HasPrefix(ref1.DeliveryID, "dlv_") {
			t.Fatalf("first attempt = %+v", ref1)
		}
		d := delivery(t, st, "wrk_a", ref1.DeliveryID)
		if d.Status != models.DeliveryPending || len(d.Attempts) != 1 || d.Attempts[0].Outcome != models.AttemptSending {
			t.Errorf("while sending: %+v", d)
		}
		next := t0.Add(5 * time.Second)
		longBody := strings.Repeat("é", 3000) + "\x00"
		finish(t, st, models.AttemptEnd{AttemptRef: ref1, FinishedAt: t0.Add(time.Second), StatusCode: 500, LatencyMs: 1000,
			ResponseBody: longBody, Error: "endpoint answered 500 Internal Server Error", NextAttemptAt: &next, Status: models.DeliveryPending})
		d = delivery(t, st, "wrk_a", ref1.DeliveryID)
		if d.Status != models.DeliveryPending || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(next) || d.LastStatusCode != 500 {
			t.Errorf("after a failure with a retry due: %+v", d)
		}
		if body := d.Attempts[0].ResponseBody; len(body) > models.MaxResponseBody || len(body) < models.MaxResponseBody-1 || !strings.HasPrefix(body, "éé") || !utf8.ValidString(body) {
			t.Errorf("response body kept %d bytes: %q…", len(body), body[:10])
		}
		// Binary answers are kept as text, within the limit.
		binary := begin(t, st, start(w, "evt_binary", models.TriggerScheduled, t0))
		finish(t, st, models.AttemptEnd{AttemptRef: binary, FinishedAt: t0, StatusCode: 502, Error: "502", ResponseBody: strings.Repeat("\xff\x00", 2048), Status: models.DeliveryFailed})
		if body := delivery(t, st, "wrk_a", binary.DeliveryID).Attempts[0].ResponseBody; len(body) > models.MaxResponseBody || !utf8.ValidString(body) || strings.ContainsRune(body, 0) {
			t.Errorf("binary response body kept as %d bytes, valid %v", len(body), utf8.ValidString(body))
		}

		lost := start(w, "evt_1", models.TriggerScheduled, t0.Add(6*time.Second))
		lost.Retry = true
		begin(t, st, lost)
		third := start(w, "evt_1", models.TriggerScheduled, t0.Add(40*time.Second))
		third.Retry = true
		ref3 := begin(t, st, third)
		finish(t, st, models.AttemptEnd{AttemptRef: ref3, Delivered: true, FinishedAt: t0.Add(41 * time.Second), StatusCode: 200, LatencyMs: 12, Status: models.DeliveryDelivered})

		d = delivery(t, st, "wrk_a", ref1.DeliveryID)
		if d.Status != models.DeliveryDelivered || d.AttemptCount != 3 || d.NextAttemptAt != nil || d.LastError != "" {
			t.Errorf("after the success: %+v", d)
		}
		var outcomes []string
		for _, a := range d.Attempts {
			outcomes = append(outcomes, fmt.Sprintf("%d:%s:%d", a.Number, a.Outcome, a.StatusCode))
		}
		if got, want := strings.Join(outcomes, " "), "1:failed:500 2:unknown:0 3:delivered:200"; got != want {
			t.Errorf("attempts = %s, want %s", got, want)
		}
		if d.Attempts[1].Error != store.LostAttemptError || d.Attempts[2].LatencyMs == nil || *d.Attempts[2].LatencyMs != 12 {
			t.Errorf("attempts = %+v", d.Attempts)
		}

		// A manual retry of the delivered delivery is attempt 4; its failure
		// makes the delivery failed, as no retry is due.
		ref4 := begin(t, st, start(w, "evt_1", models.TriggerManual, t0.Add(time.Hour)))
		if ref4.Number != 4 || ref4.DeliveryID != ref1.DeliveryID || ref4.Scheduled != 3 || ref3.Scheduled != 3 || ref1.Scheduled != 1 {
			t.Errorf("manual attempt = %+v", ref4)
		}
		finish(t, st, models.AttemptEnd{AttemptRef: ref4, FinishedAt: t0.Add(time.Hour), Error: "request failed: connection refused", Status: models.DeliveryFailed, KeepDueRetry: true})
		d = delivery(t, st, "wrk_a", ref1.DeliveryID)
		if d.Status != models.DeliveryFailed || d.Attempts[3].Trigger != models.TriggerManual || d.LastStatusCode != 0 {
			t.Errorf("after a failed manual retry: %+v", d)
		}

		// A manual attempt whose worker was lost, with none after it, reads
		// as unknown once it is older than any attempt can run.
		lostManual := begin(t, st, start(w, "evt_1", models.TriggerManual, time.Now().Add(-3*time.Minute)))
		d = delivery(t, st, "wrk_a", ref1.DeliveryID)
		if a := d.Attempts[lostManual.Number-1]; a.Outcome != models.AttemptUnknown || a.Error != store.LostAttemptError {
			t.Errorf("stale sending attempt = %+v", a)
		}
		recent := begin(t, st, start(w, "evt_1", models.TriggerManual, time.Now()))
		if a := delivery(t, st, "wrk_a", ref1.DeliveryID).Attempts[recent.Number-1]; a.Outcome != models.AttemptSending {
			t.Errorf("an attempt under way = %+v", a)
		}

		if _, err := st.Delivery(ctx, "wrk_b", ref1.DeliveryID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("another workspace's delivery: err = %v, want ErrNotFound", err)
		}
	})
}

func TestManualFailureKeepsAScheduledRetryDue(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		w := newWebhook(t, st, "wrk_a", "*")
		now := time.Now().UTC()
		ref := begin(t, st, start(w, "evt_1", models.TriggerScheduled, now))
		next := now.Add(time.Hour)
		finish(t, st, models.AttemptEnd{AttemptRef: ref, FinishedAt: now, StatusCode: 502, Error: "502", NextAttemptAt: &next, Status: models.DeliveryPending})
		manual := begin(t, st, start(w, "evt_1", models.TriggerManual, now.Add(time.Second)))
		finish(t, st, models.AttemptEnd{AttemptRef: manual, FinishedAt: now.Add(time.Second), StatusCode: 502, Error: "502", Status: models.DeliveryFailed, KeepDueRetry: true})
		if d := delivery(t, st, "wrk_a", ref.DeliveryID); d.Status != models.DeliveryPending || d.NextAttemptAt == nil {
			t.Errorf("a failed manual retry with a scheduled retry due: %+v", d)
		}
	})
}

func TestDeliveriesListNewestFirstWithFilters(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "*")
		other := newWebhook(t, st, "wrk_a", "*")
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		var ids []string
		for i := range 5 {
			a := start(w, fmt.Sprintf("evt_%d", i), models.TriggerScheduled, t0.Add(time.Duration(i)*time.Minute))
			if i == 4 {
				a.EventType = "conversation.created"
			}
			ref := begin(t, st, a)
			finish(t, st, models.AttemptEnd{AttemptRef: ref, Delivered: i%2 == 0, FinishedAt: a.StartedAt, Error: map[bool]string{true: "", false: "500"}[i%2 == 0], Status: settled(i%2 == 0)})
			ids = append(ids, ref.DeliveryID)
		}
		begin(t, st, start(other, "evt_0", models.TriggerScheduled, t0))

		list := func(f models.DeliveryFilter, limit int) []string {
			t.Helper()
			var got []string
			cursor := ""
			for {
				page, err := st.Deliveries(ctx, "wrk_a", w.ID, f, cursor, limit)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range page.Items {
					got = append(got, d.ID)
				}
				if page.NextCursor == "" {
					return got
				}
				cursor = page.NextCursor
			}
		}
		tests := []struct {
			name   string
			filter models.DeliveryFilter
			want   []string
		}{
			{"all", models.DeliveryFilter{}, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}},
			{"failed", models.DeliveryFilter{Status: models.DeliveryFailed}, []string{ids[3], ids[1]}},
			{"event", models.DeliveryFilter{EventType: "conversation.created"}, []string{ids[4]}},
			{"window", models.DeliveryFilter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, []string{ids[2], ids[1]}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, limit := range []int{1, 2, 100} {
					if got := list(tt.filter, limit); strings.Join(got, ",") != strings.Join(tt.want, ",") {
						t.Errorf("limit %d: got %v, want %v", limit, got, tt.want)
					}
				}
			})
		}
		if page, err := st.Deliveries(ctx, "wrk_b", w.ID, models.DeliveryFilter{}, "", 10); err != nil || len(page.Items) != 0 {
			t.Errorf("another workspace sees %d deliveries (err %v)", len(page.Items), err)
		}
	})
}

func TestPausingSkipsPendingDeliveries(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "*")
		now := time.Now().UTC()
		pending := begin(t, st, start(w, "evt_pending", models.TriggerScheduled, now))
		next := now.Add(time.Minute)
		finish(t, st, models.AttemptEnd{AttemptRef: pending, FinishedAt: now, StatusCode: 500, Error: "500", NextAttemptAt: &next, Status: models.DeliveryPending})
		done := begin(t, st, start(w, "evt_done", models.TriggerScheduled, now))
		finish(t, st, models.AttemptEnd{AttemptRef: done, Delivered: true, FinishedAt: now, StatusCode: 200, Status: models.DeliveryDelivered})

		if _, err := st.UpdateWebhook(ctx, "wrk_a", w.ID, func(w *models.Webhook) error { w.Status = models.WebhookPaused; return nil }); err != nil {
			t.Fatal(err)
		}
		if d := delivery(t, st, "wrk_a", pending.DeliveryID); d.Status != models.DeliverySkipped || d.NextAttemptAt != nil {
			t.Errorf("pending delivery after pause: %+v", d)
		}
		if d := delivery(t, st, "wrk_a", done.DeliveryID); d.Status != models.DeliveryDelivered {
			t.Errorf("delivered delivery after pause: %s", d.Status)
		}
		// An event that matched before the pause and was never attempted is
		// recorded as skipped, so that recover finds it.
		if err := st.SkipDelivery(ctx, start(w, "evt_never", models.TriggerScheduled, now), "skipped: the webhook was paused"); err != nil {
			t.Fatal(err)
		}
		if err := st.SkipDelivery(ctx, start(w, "evt_done", models.TriggerScheduled, now), "skipped"); err != nil {
			t.Fatal(err)
		}
		if d := delivery(t, st, "wrk_a", done.DeliveryID); d.Status != models.DeliveryDelivered {
			t.Errorf("SkipDelivery changed a delivered delivery to %s", d.Status)
		}
		// A failed test of the webhook is not an event to recover.
		test := start(w, "evt_test", models.TriggerTest, now)
		test.EventType = models.TestingConnection.Wire
		tref := begin(t, st, test)
		finish(t, st, models.AttemptEnd{AttemptRef: tref, FinishedAt: now, StatusCode: 500, Error: "500", Status: models.DeliveryFailed, KeepDueRetry: true})
		n, err := st.CountRecoverable(ctx, w.WorkspaceID, w.ID, now.Add(-time.Minute), now.Add(time.Minute))
		if err != nil || n != 2 {
			t.Errorf("recoverable after pause = %d (err %v), want the skipped two", n, err)
		}
		page, err := st.RecoverableDeliveries(ctx, w.WorkspaceID, w.ID, now.Add(-time.Minute), now.Add(time.Minute), "", 1)
		if err != nil || len(page) != 1 {
			t.Fatalf("first page = %v (err %v)", page, err)
		}
		rest, err := st.RecoverableDeliveries(ctx, w.WorkspaceID, w.ID, now.Add(-time.Minute), now.Add(time.Minute), page[0].ID, 10)
		if err != nil || len(rest) != 1 || rest[0].ID == page[0].ID {
			t.Errorf("second page = %v (err %v)", rest, err)
		}
		if n, _ := st.CountRecoverable(ctx, w.WorkspaceID, w.ID, now.Add(time.Minute), now.Add(2*time.Minute)); n != 0 {
			t.Errorf("recoverable outside the window = %d", n)
		}

		// Deleting a webhook skips what is pending and keeps its log.
		w2 := newWebhook(t, st, "wrk_a", "*")
		p2 := begin(t, st, start(w2, "evt_pending", models.TriggerScheduled, now))
		if err := st.DeleteWebhook(ctx, "wrk_a", w2.ID); err != nil {
			t.Fatal(err)
		}
		if d := delivery(t, st, "wrk_a", p2.DeliveryID); d.Status != models.DeliverySkipped || !strings.Contains(d.LastError, "deleted") {
			t.Errorf("pending delivery after delete: %+v", d)
		}
	})
}

func TestAutoPauseSkipsPendingDeliveries(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "*")
		t0 := time.Now().UTC()
		ref := begin(t, st, start(w, "evt_1", models.TriggerScheduled, t0))
		next := t0.Add(time.Hour)
		finish(t, st, models.AttemptEnd{AttemptRef: ref, FinishedAt: t0, StatusCode: 500, Error: "500", NextAttemptAt: &next, Status: models.DeliveryPending})
		if _, err := st.RecordAttempt(ctx, w.WorkspaceID, w.ID, t0, "500", time.Minute); err != nil {
			t.Fatal(err)
		}
		paused, err := st.RecordAttempt(ctx, w.WorkspaceID, w.ID, t0.Add(2*time.Minute), "500", time.Minute)
		if err != nil || len(paused) != 1 {
			t.Fatalf("auto-pause = %v (err %v)", paused, err)
		}
		if d := delivery(t, st, "wrk_a", ref.DeliveryID); d.Status != models.DeliverySkipped || !strings.Contains(d.LastError, "every delivery attempt failed") {
			t.Errorf("pending delivery after auto-pause: %+v", d)
		}
	})
}

func TestDeliveryStatsPerDay(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "*")
		other := newWebhook(t, st, "wrk_a", "*")
		now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
		day := func(back int) time.Time { return time.Date(2026, 3, 10-back, 0, 0, 0, 0, time.UTC) }
		n := 0
		attempt := func(w models.Webhook, at time.Time, delivered bool, latency int64) {
			n++
			ref := begin(t, st, start(w, fmt.Sprintf("evt_%d", n), models.TriggerScheduled, at))
			finish(t, st, models.AttemptEnd{AttemptRef: ref, Delivered: delivered, FinishedAt: at, LatencyMs: latency, Status: settled(delivered),
				Error: map[bool]string{true: "", false: "500"}[delivered]})
		}
		// Today: latencies 1..20 ms, the last two failed: p50 10, p95 19.
		for i := 1; i <= 20; i++ {
			attempt(w, day(0).Add(time.Duration(i)*time.Minute), i <= 18, int64(i))
		}
		// Three days ago, at the very start and end of the day.
		attempt(w, day(3), true, 100)
		attempt(w, day(3).Add(24*time.Hour-time.Millisecond), false, 300)
		// Six days ago: the window's first day.
		attempt(w, day(6).Add(time.Hour), true, 7)
		// Outside the window, another webhook, and an attempt still sending.
		attempt(w, day(7).Add(23*time.Hour), true, 5)
		attempt(other, day(0).Add(time.Hour), true, 5)
		begin(t, st, start(w, "evt_sending", models.TriggerScheduled, day(0).Add(time.Hour)))

		got, err := st.DeliveryStats(ctx, w.WorkspaceID, w.ID, now, models.StatsDays)
		if err != nil {
			t.Fatal(err)
		}
		ms := func(v int64) *int64 { return &v }
		want := []models.DayStats{
			{Day: day(6), Delivered: 1, P50: ms(7), P95: ms(7)},
			{Day: day(5)},
			{Day: day(4)},
			{Day: day(3), Delivered: 1, Failed: 1, P50: ms(100), P95: ms(300)},
			{Day: day(2)},
			{Day: day(1)},
			{Day: day(0), Delivered: 18, Failed: 2, P50: ms(10), P95: ms(19)},
		}
		if len(got) != len(want) {
			t.Fatalf("got %d days, want %d", len(got), len(want))
		}
		check(t, got, want)
		// Days and hours that are over are kept; the current hour is read
		// again on each call.
		attempt(w, now.Add(time.Minute), true, 1)
		want[6].Delivered++
		again, err := st.DeliveryStats(ctx, w.WorkspaceID, w.ID, now, models.StatsDays)
		if err != nil {
			t.Fatal(err)
		}
		check(t, again, want)
	})
}

func check(t *testing.T, got, want []models.DayStats) {
	t.Helper()
	show := func(p *int64) string {
		if p == nil {
			return "nil"
		}
		return fmt.Sprint(*p)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Day.Equal(w.Day) || g.Delivered != w.Delivered || g.Failed != w.Failed || show(g.P50) != show(w.P50) || show(g.P95) != show(w.P95) {
			t.Errorf("day %d: got %s %d/%d p50 %s p95 %s, want %s %d/%d p50 %s p95 %s", i,
				g.Day.Format(time.DateOnly), g.Delivered, g.Failed, show(g.P50), show(g.P95),
				w.Day.Format(time.DateOnly), w.Delivered, w.Failed, show(w.P50), show(w.P95))
		}
	}
}

func TestPruneLogRemovesExactlyWhatIsOlder(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "*")
		cutoff := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		typ, _ := models.LookupEvent("contact.created")
		offsets := []time.Duration{-48 * time.Hour, -time.Hour, -time.Millisecond, 0, time.Millisecond, time.Hour}
		var keep []string
		for i, off := range offsets {
			at := cutoff.Add(off)
			id := fmt.Sprintf("evt_%d", i)
			if err := st.SaveEvents(ctx, []models.Event{{ID: id, WorkspaceID: "wrk_a", Type: typ, OccurredAt: at, ReceivedAt: at, Payload: []byte(`{}`)}}); err != nil {
				t.Fatal(err)
			}
			ref := begin(t, st, start(w, id, models.TriggerScheduled, at))
			finish(t, st, models.AttemptEnd{AttemptRef: ref, Delivered: true, FinishedAt: at, Status: models.DeliveryDelivered})
			second := begin(t, st, start(w, id, models.TriggerManual, at.Add(time.Second)))
			finish(t, st, models.AttemptEnd{AttemptRef: second, Delivered: true, FinishedAt: at, Status: models.DeliveryDelivered})
			if off >= 0 {
				keep = append(keep, ref.DeliveryID)
			}
		}
		statsAt := cutoff.Add(time.Hour)
		stats := func() map[string]int {
			t.Helper()
			days, err := st.DeliveryStats(ctx, w.WorkspaceID, w.ID, statsAt, models.StatsDays)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]int{}
			for _, d := range days {
				out[d.Day.Format(time.DateOnly)] = d.Delivered
			}
			return out
		}
		// Each delivery has two attempts, the second a second later: the
		// one a millisecond before the cutoff has its second on March 1st.
		if got := stats(); got["2026-02-27"] != 2 || got["2026-02-28"] != 3 || got["2026-03-01"] != 7 {
			t.Fatalf("stats before pruning = %v", got)
		}
		removed := 0
		for {
			n, err := st.PruneLog(ctx, cutoff, 2)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if n > 4 {
				t.Errorf("one call removed %d rows, more than a batch of deliveries and one of events", n)
			}
			removed += n
		}
		if removed != 6 {
			t.Errorf("removed %d deliveries and events, want 3 + 3", removed)
		}
		// Stats kept for pruned days go with them; the pruned delivery's
		// attempt on March 1st too.
		if got := stats(); got["2026-02-27"] != 0 || got["2026-02-28"] != 0 || got["2026-03-01"] != 6 {
			t.Errorf("stats after pruning = %v", got)
		}
		page, err := st.Deliveries(ctx, "wrk_a", w.ID, models.DeliveryFilter{}, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range page.Items {
			got = append([]string{d.ID}, got...)
			if len(delivery(t, st, "wrk_a", d.ID).Attempts) != 2 {
				t.Errorf("delivery %s lost attempts", d.ID)
			}
		}
		if strings.Join(got, ",") != strings.Join(keep, ",") {
			t.Errorf("kept %v, want %v", got, keep)
		}
		for i, off := range offsets {
			_, err := st.Event(ctx, "wrk_a", fmt.Sprintf("evt_%d", i))
			if gone := errors.Is(err, models.ErrNotFound); gone != (off < 0) {
				t.Errorf("event at cutoff%+v: gone = %v (err %v)", off, gone, err)
			}
		}
	})
}

// A delivery whose workflow ended without it is recorded failed once: a
// new one is created failed, a pending one becomes failed, a delivered one
// stays delivered, and another workspace's webhook is never touched.
func TestFailUnfinished(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "*")
		other := newWebhook(t, st, "wrk_b", "*")
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		start := func(event, webhook, ws string) models.AttemptStart {
			return models.AttemptStart{WorkspaceID: ws, WebhookID: webhook, EventID: event, EventType: "contact.created",
				Trigger: models.TriggerScheduled, StartedAt: at, WorkflowID: "wf", RunID: "run"}
		}
		fail := func(a models.AttemptStart) bool {
			t.Helper()
			changed, err := st.FailUnfinished(ctx, a, time.Now(), "the delivery's workflow ended (terminated) before it delivered")
			if err != nil {
				t.Fatal(err)
			}
			return changed
		}
		// Never attempted: created failed; a second time changes nothing.
		if !fail(start("evt_new", w.ID, "wrk_a")) || fail(start("evt_new", w.ID, "wrk_a")) {
			t.Error("an unattempted delivery is not recorded failed exactly once")
		}
		// Pending: becomes failed.
		if _, err := st.BeginAttempt(ctx, start("evt_pending", w.ID, "wrk_a")); err != nil {
			t.Fatal(err)
		}
		if !fail(start("evt_pending", w.ID, "wrk_a")) {
			t.Error("a pending delivery is not recorded failed")
		}
		// Delivered: stays.
		ref, err := st.BeginAttempt(ctx, start("evt_done", w.ID, "wrk_a"))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.FinishAttempt(ctx, models.AttemptEnd{AttemptRef: ref, Delivered: true, FinishedAt: at, StatusCode: 200, Status: models.DeliveryDelivered}); err != nil {
			t.Fatal(err)
		}
		if fail(start("evt_done", w.ID, "wrk_a")) {
			t.Error("a delivered delivery was changed")
		}
		// Another workspace's webhook named with this workspace: nothing.
		if fail(start("evt_x", other.ID, "wrk_a")) {
			t.Error("another workspace's webhook got a delivery")
		}
		// A webhook created after the event: nothing.
		if changed, err := st.FailUnfinished(ctx, start("evt_before", w.ID, "wrk_a"), w.CreatedAt.Add(-time.Minute), "ended"); err != nil || changed {
			t.Errorf("a webhook created after the event got a delivery (%v)", err)
		}
		page, err := st.Deliveries(ctx, "wrk_a", w.ID, models.DeliveryFilter{}, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]models.DeliveryStatus{}
		for _, d := range page.Items {
			got[d.EventID] = d.Status
		}
		if got["evt_new"] != models.DeliveryFailed || got["evt_pending"] != models.DeliveryFailed || got["evt_done"] != models.DeliveryDelivered {
			t.Errorf("statuses = %v", got)
		}
	})
}

// settled is the status a delivery takes after a final attempt.
func settled(delivered bool) models.DeliveryStatus {
	if delivered {
		return models.DeliveryDelivered
	}
	return models.DeliveryFailed
}

// Every store method that reads or changes a webhook's data takes the
// workspace: given another workspace's id it sees nothing and changes
// nothing.
func TestWebhookDataIsScopedToItsWorkspace(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "*")
		now := time.Now().UTC()
		ref := begin(t, st, start(w, "evt_1", models.TriggerScheduled, now))
		finish(t, st, models.AttemptEnd{AttemptRef: ref, FinishedAt: now, StatusCode: 500, Error: "500", Status: models.DeliveryFailed, LatencyMs: 7})
		pending := begin(t, st, start(w, "evt_2", models.TriggerScheduled, now))
		since, until := now.Add(-time.Minute), now.Add(time.Minute)

		if n, err := st.CountRecoverable(ctx, "wrk_b", w.ID, since, until); err != nil || n != 0 {
			t.Errorf("CountRecoverable from wrk_b = %d (err %v), want 0", n, err)
		}
		if ds, err := st.RecoverableDeliveries(ctx, "wrk_b", w.ID, since, until, "", 10); err != nil || len(ds) != 0 {
			t.Errorf("RecoverableDeliveries from wrk_b = %v (err %v), want none", ds, err)
		}
		if _, err := st.DeliveryStats(ctx, "wrk_b", w.ID, now, models.StatsDays); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("DeliveryStats from wrk_b: err %v, want not found", err)
		}
		if _, err := st.PauseWebhook(ctx, "wrk_b", w.ID, "gone"); err != nil {
			t.Fatal(err)
		}
		if paused, err := st.RecordAttempt(ctx, "wrk_b", w.ID, now, "500", time.Nanosecond); err != nil || len(paused) != 0 {
			t.Errorf("RecordAttempt from wrk_b paused = %v (err %v)", paused, err)
		}
		got, err := st.Webhook(ctx, "wrk_a", w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != models.WebhookActive || got.LastAttemptedAt != nil || got.LastErrorMessage != "" {
			t.Errorf("webhook changed through wrk_b: %+v", got)
		}
		if d := delivery(t, st, "wrk_a", pending.DeliveryID); d.Status != models.DeliveryPending {
			t.Errorf("pending delivery after a pause through wrk_b: %s", d.Status)
		}

		// Its own workspace sees and changes all of it.
		if n, err := st.CountRecoverable(ctx, "wrk_a", w.ID, since, until); err != nil || n != 1 {
			t.Errorf("CountRecoverable = %d (err %v), want 1", n, err)
		}
		if days, err := st.DeliveryStats(ctx, "wrk_a", w.ID, now, models.StatsDays); err != nil || days[len(days)-1].Failed != 1 {
			t.Errorf("DeliveryStats = %+v (err %v), want today's failure", days, err)
		}
		if _, err := st.PauseWebhook(ctx, "wrk_a", w.ID, "gone"); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.Webhook(ctx, "wrk_a", w.ID); got.Status != models.WebhookPaused {
			t.Errorf("status after pause = %s", got.Status)
		}
	})
}

// Attempts made at once, as a worker's concurrent deliveries make them, are
// each recorded: the log writes SQLite commits in groups report and keep
// what they would alone.
func TestConcurrentAttemptsAreEachRecorded(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "*")
		now := time.Now().UTC()
		const events, manual = 40, 6
		refs := make([]models.AttemptRef, events+manual)
		errs := make([]error, events+manual)
		var wg sync.WaitGroup
		for i := range events + manual {
			wg.Go(func() {
				a := start(w, fmt.Sprintf("evt_%d", i), models.TriggerScheduled, now)
				if i >= events { // manual attempts of one delivery at once
					a = start(w, "evt_0", models.TriggerManual, now)
				}
				ref, err := st.BeginAttempt(ctx, a)
				if err != nil {
					errs[i] = err
					return
				}
				refs[i] = ref
				errs[i] = st.FinishAttempt(ctx, models.AttemptEnd{AttemptRef: ref, Delivered: i%2 == 0, FinishedAt: now, StatusCode: 200 + 300*(i%2),
					Status: map[bool]models.DeliveryStatus{true: models.DeliveryDelivered, false: models.DeliveryFailed}[i%2 == 0]})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("attempt %d: %v", i, err)
			}
		}
		for i := 1; i < events; i++ {
			d := delivery(t, st, "wrk_a", refs[i].DeliveryID)
			want := map[bool]models.DeliveryStatus{true: models.DeliveryDelivered, false: models.DeliveryFailed}[i%2 == 0]
			if d.EventID != fmt.Sprintf("evt_%d", i) || d.Status != want || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 200+300*(i%2) {
				t.Errorf("delivery of evt_%d: %+v", i, d)
			}
		}
		d := delivery(t, st, "wrk_a", refs[0].DeliveryID)
		numbers := map[int]bool{}
		for _, a := range d.Attempts {
			numbers[a.Number] = true
			if a.Outcome == models.AttemptSending {
				t.Errorf("attempt %d left sending", a.Number)
			}
		}
		if len(d.Attempts) != 1+manual || len(numbers) != 1+manual {
			t.Errorf("evt_0: %d attempts numbered %v, want %d distinct", len(d.Attempts), numbers, 1+manual)
		}
	})
}
