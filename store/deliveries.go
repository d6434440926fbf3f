package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tidysupport/tidyhooks/models"
)

type deliveryRow struct {
	ID              string `gorm:"primaryKey"`
	WorkspaceID     string
	WebhookID       string
	EventID         string
	EventType       string
	Status          string
	AttemptCount    int
	LastStatusCode  *int
	LastError       string
	LastAttemptedAt *time.Time
	NextAttemptAt   *time.Time
	WorkflowID      string
	RunID           string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func (deliveryRow) TableName() string { return "deliveries" }

func (r deliveryRow) model() models.Delivery {
	d := models.Delivery{
		ID: r.ID, WorkspaceID: r.WorkspaceID, WebhookID: r.WebhookID, EventID: r.EventID, EventType: r.EventType,
		Status: models.DeliveryStatus(r.Status), AttemptCount: r.AttemptCount, LastError: r.LastError,
		LastAttemptedAt: utcPtr(r.LastAttemptedAt), NextAttemptAt: utcPtr(r.NextAttemptAt),
		WorkflowID: r.WorkflowID, RunID: r.RunID, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.LastStatusCode != nil {
		d.LastStatusCode = *r.LastStatusCode
	}
	return d
}

type attemptRow struct {
	ID            int64 `gorm:"primaryKey"`
	DeliveryID    string
	WebhookID     string
	Number        int
	Trigger       string
	Outcome       string
	StartedAt     time.Time
	FinishedAt    *time.Time
	StatusCode    *int
	LatencyMs     *int64
	ResponseBody  string
	Error         string
	NextAttemptAt *time.Time
	WorkflowID    string
	RunID         string
	// RequestHeaders and ResponseHeaders are JSON objects; nil for
	// attempts recorded before they were kept.
	RequestHeaders  *string
	ResponseHeaders *string
}

func (attemptRow) TableName() string { return "delivery_attempts" }

func (r attemptRow) model() models.DeliveryAttempt {
	a := models.DeliveryAttempt{
		Number: r.Number, Trigger: models.AttemptTrigger(r.Trigger), Outcome: models.AttemptOutcome(r.Outcome),
		StartedAt: r.StartedAt.UTC(), FinishedAt: utcPtr(r.FinishedAt), LatencyMs: r.LatencyMs,
		ResponseBody: r.ResponseBody, Error: r.Error, NextAttemptAt: utcPtr(r.NextAttemptAt),
		WorkflowID: r.WorkflowID, RunID: r.RunID,
	}
	if r.StatusCode != nil {
		a.StatusCode = *r.StatusCode
	}
	a.RequestHeaders = readHeaders(r.RequestHeaders)
	a.ResponseHeaders = readHeaders(r.ResponseHeaders)
	return a
}

// maxResponseHeaders bounds the response headers an attempt record keeps,
// in bytes of JSON; past it the rest are left out.
const maxResponseHeaders = 8 << 10

// writeHeaders is headers as stored: a JSON object, nil when there are
// none. Names and values are made storable; a name whose entry would take
// the object past limit is left out, and so are the rest.
func writeHeaders(h map[string]string, limit int) *string {
	if len(h) == 0 {
		return nil
	}
	names := slices.Sorted(maps.Keys(h))
	out := make(map[string]string, len(h))
	size := 2
	for _, n := range names {
		name, value := cleanText(n, 256), cleanText(h[n], 2048)
		size += len(name) + len(value) + 6
		if size > limit {
			break
		}
		out[name] = value
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil
	}
	s := string(b)
	return &s
}

func readHeaders(s *string) map[string]string {
	if s == nil {
		return nil
	}
	var h map[string]string
	if json.Unmarshal([]byte(*s), &h) != nil {
		return nil
	}
	return h
}

// staleSending is how long after its start an attempt still "sending"
// is known to be lost: well past the delivery activity's 30 s timeout.
const staleSending = 2 * time.Minute

// LostAttemptError is the error of an attempt whose worker stopped before
// recording its outcome.
const LostAttemptError = "the worker stopped before recording this attempt's outcome; the request may have reached the endpoint"

// BeginAttempt records an attempt as sending before its request goes out,
// creating the delivery on its first attempt, and returns the attempt's
// number within the delivery. A crash after the request leaves this record
// behind; the next scheduled attempt marks it unknown.
func (s *Store) BeginAttempt(ctx context.Context, a models.AttemptStart) (models.AttemptRef, error) {
	at := a.StartedAt.UTC()
	upsert := `INSERT INTO deliveries (id, workspace_id, webhook_id, event_id, event_type, status, attempt_count,
			scheduled_count, last_attempted_at, workflow_id, run_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (event_id, webhook_id) DO UPDATE SET attempt_count = deliveries.attempt_count + 1,
			scheduled_count = deliveries.scheduled_count + excluded.scheduled_count,
			last_attempted_at = excluded.last_attempted_at, updated_at = excluded.updated_at
		RETURNING id, attempt_count, scheduled_count`
	scheduled := 0
	if a.Trigger == models.TriggerScheduled {
		scheduled = 1
	}
	upsertArgs := []any{models.NewID("dlv", at), a.WorkspaceID, a.WebhookID, a.EventID, a.EventType, string(models.DeliveryPending),
		scheduled, at, a.WorkflowID, a.RunID, at, at}
	var (
		ref models.AttemptRef
		err error
	)
	if s.dialect == "postgres" && !a.Retry {
		// The common case in one statement, one round trip instead of a
		// transaction's four: this is on every attempt's path. SQLite has
		// no data-modifying CTE, so it takes the transaction below; every
		// store test runs on both, so both paths are held to one result.
		err = s.db.WithContext(ctx).Raw(`WITH d AS (`+upsert+`)
			INSERT INTO delivery_attempts (delivery_id, webhook_id, number, trigger, outcome, started_at, workflow_id, run_id)
			SELECT d.id, ?, d.attempt_count, ?, ?, ?, ?, ? FROM d
			RETURNING delivery_id, number, (SELECT scheduled_count FROM d)`,
			append(upsertArgs, a.WebhookID, string(a.Trigger), string(models.AttemptSending), at, a.WorkflowID, a.RunID)...).
			Row().Scan(&ref.DeliveryID, &ref.Number, &ref.Scheduled)
	} else {
		err = s.logTx(ctx, func(tx *gorm.DB) error {
			if err := tx.Raw(upsert, upsertArgs...).Row().Scan(&ref.DeliveryID, &ref.Number, &ref.Scheduled); err != nil {
				return err
			}
			if a.Retry {
				err := tx.Exec(`UPDATE delivery_attempts SET outcome = ?, error = ?, finished_at = ?
					WHERE delivery_id = ? AND trigger = ? AND outcome = ?`,
					string(models.AttemptUnknown), LostAttemptError, at, ref.DeliveryID, string(models.TriggerScheduled), string(models.AttemptSending)).Error
				if err != nil {
					return err
				}
			}
			return tx.Create(&attemptRow{
				DeliveryID: ref.DeliveryID, WebhookID: a.WebhookID, Number: ref.Number, Trigger: string(a.Trigger),
				Outcome: string(models.AttemptSending), StartedAt: at, WorkflowID: a.WorkflowID, RunID: a.RunID,
			}).Error
		})
	}
	if err != nil {
		return models.AttemptRef{}, fmt.Errorf("record attempt of %s to %s: %w", a.EventID, a.WebhookID, translate(err))
	}
	return ref, nil
}

// FinishAttempt records an attempt's outcome and gives its delivery the
// status the retry policy decided (models.RetryPolicy.Decide).
func (s *Store) FinishAttempt(ctx context.Context, e models.AttemptEnd) error {
	switch e.Status {
	case models.DeliveryPending, models.DeliveryDelivered, models.DeliveryFailed:
	default:
		return fmt.Errorf("record outcome of attempt %d of %s: delivery status %q after an attempt", e.Number, e.DeliveryID, e.Status)
	}
	at := e.FinishedAt.UTC()
	outcome := models.AttemptFailed
	if e.Delivered {
		outcome = models.AttemptDelivered
	}
	var code *int
	if e.StatusCode != 0 {
		code = &e.StatusCode
	}
	next := utcPtr(e.NextAttemptAt)
	body := cleanText(e.ResponseBody, models.MaxResponseBody)
	errMsg := cleanText(e.Error, 2048)
	updateAttempt := `UPDATE delivery_attempts SET outcome = ?, finished_at = ?, status_code = ?, latency_ms = ?,
			response_body = ?, error = ?, next_attempt_at = ?, request_headers = ?, response_headers = ?
		WHERE delivery_id = ? AND number = ?`
	attemptArgs := []any{string(outcome), at, code, e.LatencyMs, body, errMsg, next,
		writeHeaders(e.RequestHeaders, 64<<10), writeHeaders(e.ResponseHeaders, maxResponseHeaders), e.DeliveryID, e.Number}
	set := "status = ?, next_attempt_at = ?"
	setArgs := []any{string(e.Status), next}
	if e.KeepDueRetry {
		// A scheduled retry still due keeps the delivery pending, and due.
		set = "status = CASE WHEN status = ? AND next_attempt_at > ? THEN status ELSE ? END"
		setArgs = []any{string(models.DeliveryPending), at, string(e.Status)}
	}
	updateDelivery := "UPDATE deliveries SET " + set + ", last_status_code = ?, last_error = ?, updated_at = ? WHERE id = ?"
	deliveryArgs := append(setArgs, code, errMsg, at, e.DeliveryID)
	var err error
	if s.dialect == "postgres" {
		// One statement, one round trip, as in BeginAttempt; SQLite runs
		// the same two updates in a transaction.
		err = s.db.WithContext(ctx).Exec("WITH a AS ("+updateAttempt+") "+updateDelivery, append(attemptArgs, deliveryArgs...)...).Error
	} else {
		err = s.logTx(ctx, func(tx *gorm.DB) error {
			if err := tx.Exec(updateAttempt, attemptArgs...).Error; err != nil {
				return err
			}
			return tx.Exec(updateDelivery, deliveryArgs...).Error
		})
	}
	if err != nil {
		return fmt.Errorf("record outcome of attempt %d of %s: %w", e.Number, e.DeliveryID, translate(err))
	}
	return nil
}

// cleanText makes s storable as TEXT on both databases: valid UTF-8
// without NUL bytes, at most max bytes, cut on a rune boundary.
func cleanText(s string, max int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for !utf8.ValidString(s) { // at most three bytes of a cut rune
		s = s[:len(s)-1]
	}
	return s
}

// SkipDelivery marks a delivery skipped because its webhook is paused or
// gone, unless it already succeeded or failed for good. A delivery not
// attempted yet is recorded as skipped, so that recover finds it.
func (s *Store) SkipDelivery(ctx context.Context, a models.AttemptStart, reason string) error {
	at := a.StartedAt.UTC()
	err := s.db.WithContext(ctx).Exec(`INSERT INTO deliveries (id, workspace_id, webhook_id, event_id, event_type, status,
			attempt_count, last_error, workflow_id, run_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)
		ON CONFLICT (event_id, webhook_id) DO UPDATE SET status = excluded.status, next_attempt_at = NULL,
			last_error = excluded.last_error, updated_at = excluded.updated_at
		WHERE deliveries.status = ?`,
		models.NewID("dlv", at), a.WorkspaceID, a.WebhookID, a.EventID, a.EventType, string(models.DeliverySkipped),
		reason, a.WorkflowID, a.RunID, at, at, string(models.DeliveryPending)).Error
	if err != nil {
		return fmt.Errorf("skip delivery of %s to %s: %w", a.EventID, a.WebhookID, translate(err))
	}
	return nil
}

// FailUnfinished records that a delivery's workflow ended without
// delivering it (terminated, timed out, failed): a delivery not recorded
// yet, or still pending, becomes failed with the reason, so that the log
// shows it and recover finds it. It reports whether it changed anything; a
// delivery that ended otherwise is left as it is. The webhook's
// workspace must be a.WorkspaceID, and the webhook must have existed at
// emittedAt: a webhook created after an event never receives it.
func (s *Store) FailUnfinished(ctx context.Context, a models.AttemptStart, emittedAt time.Time, reason string) (bool, error) {
	at := a.StartedAt.UTC()
	res := s.db.WithContext(ctx).Exec(`INSERT INTO deliveries (id, workspace_id, webhook_id, event_id, event_type, status,
			attempt_count, last_error, workflow_id, run_id, created_at, updated_at)
		SELECT ?, w.workspace_id, w.id, ?, ?, ?, 0, ?, ?, ?, ?, ? FROM webhooks w
		WHERE w.id = ? AND w.workspace_id = ? AND w.created_at <= ?
		ON CONFLICT (event_id, webhook_id) DO UPDATE SET status = excluded.status, next_attempt_at = NULL,
			last_error = excluded.last_error, updated_at = excluded.updated_at
		WHERE deliveries.status = ?`,
		models.NewID("dlv", at), a.EventID, a.EventType, string(models.DeliveryFailed), cleanText(reason, 1000),
		a.WorkflowID, a.RunID, at, at, a.WebhookID, a.WorkspaceID, emittedAt.UTC(), string(models.DeliveryPending))
	if res.Error != nil {
		return false, fmt.Errorf("fail unfinished delivery of %s to %s: %w", a.EventID, a.WebhookID, translate(res.Error))
	}
	return res.RowsAffected > 0, nil
}

// skipPending marks every pending delivery of a webhook skipped: it has
// been paused or deleted, and its retries stop.
func (s *Store) skipPending(tx *gorm.DB, webhookID, reason string) error {
	return tx.Exec(`UPDATE deliveries SET status = ?, next_attempt_at = NULL, last_error = ?, updated_at = ?
		WHERE webhook_id = ? AND status = ?`,
		string(models.DeliverySkipped), reason, s.now(), webhookID, string(models.DeliveryPending)).Error
}

// Deliveries lists a workspace's webhook's deliveries newest first, limit
// at a time, starting after cursor ("" for the first page).
func (s *Store) Deliveries(ctx context.Context, workspaceID, webhookID string, f models.DeliveryFilter, cursor string, limit int) (models.Page[models.Delivery], error) {
	q := s.db.WithContext(ctx).Where("webhook_id = ? AND workspace_id = ?", webhookID, workspaceID).Order("id DESC").Limit(limit + 1)
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if f.EventType != "" {
		q = q.Where("event_type = ?", f.EventType)
	}
	if !f.Since.IsZero() {
		q = q.Where("created_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("created_at < ?", f.Until.UTC())
	}
	if cursor != "" {
		before, err := models.DecodeCursor(cursor)
		if err != nil {
			return models.Page[models.Delivery]{}, err
		}
		q = q.Where("id < ?", before)
	}
	var rows []deliveryRow
	if err := q.Find(&rows).Error; err != nil {
		return models.Page[models.Delivery]{}, fmt.Errorf("list deliveries of %s: %w", webhookID, translate(err))
	}
	return page(rows, limit, func(r deliveryRow) string { return r.ID }, deliveryRow.model), nil
}

// Delivery returns one delivery of a workspace with every attempt, oldest
// first; another workspace's delivery is not found.
func (s *Store) Delivery(ctx context.Context, workspaceID, id string) (models.Delivery, error) {
	db := s.db.WithContext(ctx)
	var row deliveryRow
	if err := db.Take(&row, "id = ? AND workspace_id = ?", id, workspaceID).Error; err != nil {
		return models.Delivery{}, fmt.Errorf("load delivery %s: %w", id, translate(err))
	}
	var attempts []attemptRow
	if err := db.Where("delivery_id = ?", id).Order("number").Find(&attempts).Error; err != nil {
		return models.Delivery{}, fmt.Errorf("load attempts of delivery %s: %w", id, translate(err))
	}
	d := row.model()
	d.Attempts = make([]models.DeliveryAttempt, len(attempts))
	stale := s.now().Add(-staleSending)
	for i, a := range attempts {
		d.Attempts[i] = a.model()
		// No attempt is under way for longer than its timeout: one still
		// "sending" long after lost its worker, even where no later
		// attempt came to mark it (a manual retry, a test, a recover).
		if at := &d.Attempts[i]; at.Outcome == models.AttemptSending && at.StartedAt.Before(stale) {
			at.Outcome, at.Error = models.AttemptUnknown, LostAttemptError
		}
	}
	return d, nil
}

// recoverable is what recover redelivers: a workspace's webhook's failed
// and skipped deliveries of events created in [since, until); tests of the
// webhook are not events to catch up on.
func (s *Store) recoverable(ctx context.Context, workspaceID, webhookID string, since, until time.Time) *gorm.DB {
	return s.db.WithContext(ctx).Model(&deliveryRow{}).
		Where("webhook_id = ? AND workspace_id = ? AND status IN ? AND created_at >= ? AND created_at < ? AND event_type <> ?", webhookID, workspaceID,
			[]string{string(models.DeliveryFailed), string(models.DeliverySkipped)}, since.UTC(), until.UTC(), models.TestingConnection.Wire)
}

// CountRecoverable counts the deliveries RecoverableDeliveries would list.
func (s *Store) CountRecoverable(ctx context.Context, workspaceID, webhookID string, since, until time.Time) (int, error) {
	var n int64
	if err := s.recoverable(ctx, workspaceID, webhookID, since, until).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count deliveries to recover of %s: %w", webhookID, translate(err))
	}
	return int(n), nil
}

// RecoverableDeliveries returns, oldest first and limit at a time from
// after the id after, a workspace's webhook's failed and skipped deliveries
// created in [since, until).
func (s *Store) RecoverableDeliveries(ctx context.Context, workspaceID, webhookID string, since, until time.Time, after string, limit int) ([]models.Delivery, error) {
	var rows []deliveryRow
	err := s.recoverable(ctx, workspaceID, webhookID, since, until).Where("id > ?", after).Order("id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list deliveries to recover of %s: %w", webhookID, translate(err))
	}
	out := make([]models.Delivery, len(rows))
	for i, r := range rows {
		out[i] = r.model()
	}
	return out, nil
}

// closedAfter is how long after its end a span of attempts is final: an
// attempt started before the end finishes within its timeout.
const closedAfter = time.Minute

type statsDayRow struct {
	WebhookID string
	Day       string
	Delivered int
	Failed    int
	P50Ms     *int64
	P95Ms     *int64
}

func (statsDayRow) TableName() string { return "delivery_stats_days" }

// statsHourRow keeps one hour of a day that is not over yet: the counts,
// and how many attempts took each latency, so hours add up exactly.
type statsHourRow struct {
	WebhookID string
	Hour      string // 2006-01-02T15
	Delivered int
	Failed    int
	Latencies string // JSON [[ms, attempts], …]
}

func (statsHourRow) TableName() string { return "delivery_stats_hours" }

const hourKey = "2006-01-02T15"

// DeliveryStats summarises a workspace's webhook's finished attempts on
// each of the
// days UTC days ending with the day of now, oldest first, days without
// attempts included. Latency percentiles are exact (nearest rank). A day
// that is over is read from the log once and kept; so is each hour of
// today that is over, so that a call reads the log only for the current
// hour.
func (s *Store) DeliveryStats(ctx context.Context, workspaceID, webhookID string, now time.Time, days int) ([]models.DayStats, error) {
	db := s.db.WithContext(ctx)
	// The kept days and hours are the webhook's alone: the workspace is
	// checked once, on the webhook.
	if _, err := s.Webhook(ctx, workspaceID, webhookID); err != nil {
		return nil, err
	}
	now = now.UTC()
	first := now.Truncate(24*time.Hour).AddDate(0, 0, -(days - 1))
	var kept []statsDayRow
	err := db.Where("webhook_id = ? AND day >= ?", webhookID, first.Format(time.DateOnly)).Find(&kept).Error
	if err != nil {
		return nil, fmt.Errorf("delivery stats of %s: %w", webhookID, translate(err))
	}
	byDay := make(map[string]statsDayRow, len(kept))
	for _, k := range kept {
		byDay[k.Day] = k
	}
	out := make([]models.DayStats, days)
	for i := range out {
		day := first.AddDate(0, 0, i)
		key := day.Format(time.DateOnly)
		row, ok := byDay[key]
		switch {
		case ok:
		case closed(day.Add(24*time.Hour), now):
			t, err := s.tally(db, webhookID, day, day.Add(24*time.Hour))
			if err != nil {
				return nil, fmt.Errorf("delivery stats of %s on %s: %w", webhookID, key, translate(err))
			}
			row = t.row(webhookID, key)
			// Another request may have kept it first: the same numbers.
			if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
				return nil, fmt.Errorf("keep delivery stats of %s on %s: %w", webhookID, key, translate(err))
			}
		default:
			t, err := s.tallyByHour(db, webhookID, day, now)
			if err != nil {
				return nil, fmt.Errorf("delivery stats of %s on %s: %w", webhookID, key, translate(err))
			}
			row = t.row(webhookID, key)
		}
		out[i] = models.DayStats{Day: day, Delivered: row.Delivered, Failed: row.Failed, P50: row.P50Ms, P95: row.P95Ms}
	}
	return out, nil
}

// closed reports whether attempts started before end are all final at now.
func closed(end, now time.Time) bool { return !now.Before(end.Add(closedAfter)) }

// tallyByHour adds up a day that is not over, hour by hour: hours that are
// over come from delivery_stats_hours (computed and kept the first time),
// the rest from the log.
func (s *Store) tallyByHour(db *gorm.DB, webhookID string, day, now time.Time) (tally, error) {
	var kept []statsHourRow
	err := db.Where("webhook_id = ? AND hour >= ? AND hour < ?", webhookID,
		day.Format(hourKey), day.Add(24*time.Hour).Format(hourKey)).Find(&kept).Error
	if err != nil {
		return tally{}, err
	}
	byHour := make(map[string]statsHourRow, len(kept))
	for _, k := range kept {
		byHour[k.Hour] = k
	}
	total := tally{counts: map[int64]int{}}
	for h := day; h.Before(day.Add(24*time.Hour)) && !h.After(now); h = h.Add(time.Hour) {
		key := h.Format(hourKey)
		if k, ok := byHour[key]; ok {
			var pairs [][2]int64
			if err := json.Unmarshal([]byte(k.Latencies), &pairs); err != nil {
				return tally{}, fmt.Errorf("kept stats of hour %s: %w", key, err)
			}
			total.delivered += k.Delivered
			total.failed += k.Failed
			for _, p := range pairs {
				total.counts[p[0]] += int(p[1])
			}
			continue
		}
		t, err := s.tally(db, webhookID, h, h.Add(time.Hour))
		if err != nil {
			return tally{}, err
		}
		if closed(h.Add(time.Hour), now) {
			row := statsHourRow{WebhookID: webhookID, Hour: key, Delivered: t.delivered, Failed: t.failed, Latencies: t.latenciesJSON()}
			if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
				return tally{}, err
			}
		}
		total.delivered += t.delivered
		total.failed += t.failed
		for ms, n := range t.counts {
			total.counts[ms] += n
		}
	}
	return total, nil
}

// tally is a span of a webhook's finished attempts: how many were
// delivered and failed, and how many took each latency.
type tally struct {
	delivered int
	failed    int
	counts    map[int64]int
}

// tally reads [from, to) of a webhook's attempts from the log: one index
// range, grouped by latency so that percentiles need no sort of its rows.
func (s *Store) tally(db *gorm.DB, webhookID string, from, to time.Time) (tally, error) {
	var groups []struct {
		Outcome   string
		LatencyMs *int64
		N         int
	}
	err := db.Raw(`SELECT outcome, latency_ms, COUNT(*) AS n FROM delivery_attempts
		WHERE webhook_id = ? AND started_at >= ? AND started_at < ? AND outcome IN (?, ?)
		GROUP BY outcome, latency_ms`,
		webhookID, from, to, string(models.AttemptDelivered), string(models.AttemptFailed)).Scan(&groups).Error
	if err != nil {
		return tally{}, err
	}
	t := tally{counts: map[int64]int{}}
	for _, g := range groups {
		if g.Outcome == string(models.AttemptDelivered) {
			t.delivered += g.N
		} else {
			t.failed += g.N
		}
		if g.LatencyMs != nil {
			t.counts[*g.LatencyMs] += g.N
		}
	}
	return t, nil
}

// sorted returns the latencies in ascending order with their counts, and
// how many attempts they cover.
func (t tally) sorted() ([][2]int64, int) {
	pairs := make([][2]int64, 0, len(t.counts))
	total := 0
	for ms, n := range t.counts {
		pairs = append(pairs, [2]int64{ms, int64(n)})
		total += n
	}
	slices.SortFunc(pairs, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	return pairs, total
}

func (t tally) latenciesJSON() string {
	pairs, _ := t.sorted()
	b, _ := json.Marshal(pairs) // pairs of integers always marshal
	return string(b)
}

// row is the day's summary with exact nearest-rank percentiles.
func (t tally) row(webhookID, day string) statsDayRow {
	pairs, total := t.sorted()
	return statsDayRow{
		WebhookID: webhookID, Day: day, Delivered: t.delivered, Failed: t.failed,
		P50Ms: percentile(pairs, total, 50), P95Ms: percentile(pairs, total, 95),
	}
}

// percentile is the nearest-rank pct-th percentile of total values given
// as ascending (value, count) pairs; nil without values.
func percentile(values [][2]int64, total, pct int) *int64 {
	if total == 0 {
		return nil
	}
	rank := int64((total*pct + 99) / 100) // ceil(total × pct / 100)
	var seen int64
	for _, v := range values {
		seen += v[1]
		if seen >= rank {
			ms := v[0]
			return &ms
		}
	}
	return nil
}

// PruneLog removes up to batch deliveries created before before, with
// their attempts, and up to batch events received before it, in short
// transactions, and returns how many deliveries and events it removed.
// Call it until it returns 0.
func (s *Store) PruneLog(ctx context.Context, before time.Time, batch int) (int, error) {
	before = before.UTC()
	db := s.db.WithContext(ctx)
	var removed int
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := prunePortal(tx, before); err != nil {
			return err
		}
		var ids []string
		if err := tx.Model(&deliveryRow{}).Where("created_at < ?", before).Order("created_at").Limit(batch).Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := tx.Where("delivery_id IN ?", ids).Delete(&attemptRow{}).Error; err != nil {
			return err
		}
		res := tx.Where("id IN ?", ids).Delete(&deliveryRow{})
		removed += int(res.RowsAffected)
		return res.Error
	})
	if err != nil {
		return removed, fmt.Errorf("prune delivery log: %w", translate(err))
	}
	if err := db.Where("day < ?", before.Format(time.DateOnly)).Delete(&statsDayRow{}).Error; err != nil {
		return removed, fmt.Errorf("prune delivery stats: %w", translate(err))
	}
	if err := db.Where("hour < ?", before.Format(hourKey)).Delete(&statsHourRow{}).Error; err != nil {
		return removed, fmt.Errorf("prune delivery stats: %w", translate(err))
	}
	var ids []string
	if err := db.Model(&eventRow{}).Where("received_at < ?", before).Order("received_at").Limit(batch).Pluck("id", &ids).Error; err != nil {
		return removed, fmt.Errorf("prune events: %w", translate(err))
	}
	if len(ids) > 0 {
		res := db.Where("id IN ?", ids).Delete(&eventRow{})
		if res.Error != nil {
			return removed, fmt.Errorf("prune events: %w", translate(res.Error))
		}
		removed += int(res.RowsAffected)
	}
	return removed, nil
}

// Census counts, across every workspace, what operators watch: webhooks by
// status, and deliveries waiting for a scheduled retry.
func (s *Store) Census(ctx context.Context) (models.Census, error) {
	census := models.Census{Webhooks: map[models.WebhookStatus]int{}}
	var rows []struct {
		Status string
		N      int
	}
	if err := s.db.WithContext(ctx).Raw("SELECT status, COUNT(*) AS n FROM webhooks GROUP BY status").Scan(&rows).Error; err != nil {
		return models.Census{}, fmt.Errorf("count webhooks: %w", translate(err))
	}
	for _, r := range rows {
		census.Webhooks[models.WebhookStatus(r.Status)] = r.N
	}
	err := s.db.WithContext(ctx).Raw("SELECT COUNT(*) FROM deliveries WHERE status = ? AND next_attempt_at IS NOT NULL",
		string(models.DeliveryPending)).Scan(&census.RetriesWaiting).Error
	if err != nil {
		return models.Census{}, fmt.Errorf("count deliveries waiting: %w", translate(err))
	}
	return census, nil
}
