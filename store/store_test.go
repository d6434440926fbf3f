package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
)

// Every test here runs against both backends: the same conformance suite
// for SQLite and the real PostgreSQL server.
func eachBackend(t *testing.T, f func(t *testing.T, st *store.Store, url string)) {
	for _, backend := range testenv.Backends {
		t.Run(backend, func(t *testing.T) {
			url := testenv.DatabaseURL(t, backend)
			st, err := store.Open(context.Background(), url, store.Options{EncryptionKey: testenv.EncryptionKey})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			f(t, st, url)
		})
	}
}

func newWebhook(t *testing.T, st *store.Store, ws string, events ...string) models.Webhook {
	t.Helper()
	w, err := models.NewWebhook{URL: "https://example.com/" + ws, Events: events}.Validate(ws, models.URLPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	created, err := st.CreateWebhook(context.Background(), w, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0)
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// saveEvent stores an event for delivery reads.
func saveEvent(t *testing.T, st *store.Store, id string) {
	t.Helper()
	typ, _ := models.LookupEvent("contact.created")
	ev := models.Event{ID: id, WorkspaceID: "wrk_a", Type: typ, OccurredAt: time.Now(), ReceivedAt: time.Now(), Payload: []byte(`{}`)}
	if err := st.SaveEvents(context.Background(), []models.Event{ev}); err != nil {
		t.Fatal(err)
	}
}

func TestMigrationsAreIdempotent(t *testing.T) {
	eachBackend(t, func(t *testing.T, _ *store.Store, url string) {
		again, err := store.Open(context.Background(), url, store.Options{EncryptionKey: testenv.EncryptionKey})
		if err != nil {
			t.Fatalf("second open: %v", err)
		}
		_ = again.Close()
	})
}

func TestEvents(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		typ, _ := models.LookupEvent("conversation.created")
		occurred := time.Date(2024, 1, 15, 10, 30, 0, 123e6, time.UTC)
		payload := `{"b": 1,  "a":"<x>", "n": 1.50}`
		ev := models.Event{ID: "evt_1", WorkspaceID: "wrk_a", Type: typ, OccurredAt: occurred, ReceivedAt: occurred, Payload: []byte(payload)}
		if err := st.SaveEvents(ctx, []models.Event{ev}); err != nil {
			t.Fatal(err)
		}
		again := ev
		again.OccurredAt = occurred.Add(time.Hour) // a resend may carry another time
		if err := st.SaveEvents(ctx, []models.Event{again}); err != nil {
			t.Fatalf("saving the same event again: %v", err)
		}
		fresh := ev
		fresh.ID = "evt_2"
		dup := ev
		dup.Payload = []byte(`{"other":true}`)
		err := st.SaveEvents(ctx, []models.Event{fresh, dup})
		if !errors.Is(err, models.ErrConflict) || !strings.Contains(err.Error(), "evt_1") {
			t.Fatalf("same id, other payload: err = %v, want ErrConflict naming evt_1", err)
		}
		if _, err := st.Event(ctx, "wrk_a", "evt_2"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("a refused batch stored its other event (err %v)", err)
		}
		other := ev
		other.WorkspaceID = "wrk_b"
		other.Payload = []byte(`{"workspace":"b"}`)
		if err := st.SaveEvents(ctx, []models.Event{other}); err != nil {
			t.Fatalf("another workspace's event with the same id: %v", err)
		}
		got, err := st.Event(ctx, "wrk_a", "evt_1")
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Payload) != payload {
			t.Errorf("payload = %s, want the first emission byte for byte: %s", got.Payload, payload)
		}
		if !got.OccurredAt.Equal(occurred) || got.Type != typ || got.WorkspaceID != "wrk_a" {
			t.Errorf("event = %+v, want %+v", got, ev)
		}
		gotB, err := st.Event(ctx, "wrk_b", "evt_1")
		if err != nil || string(gotB.Payload) != `{"workspace":"b"}` || gotB.WorkspaceID != "wrk_b" {
			t.Errorf("wrk_b's evt_1 = %+v, %v; want its own payload", gotB, err)
		}
		if _, err := st.Event(ctx, "wrk_a", "evt_missing"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("missing event: err = %v, want ErrNotFound", err)
		}
	})
}

func TestWebhooksAreScopedToTheirWorkspace(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "CONVERSATION_CREATED")
		got, err := st.Webhook(ctx, "wrk_a", w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.URL != w.URL || got.Status != models.WebhookActive || !slices.Equal(got.Events, w.Events) {
			t.Errorf("webhook = %+v, want %+v", got, w)
		}
		if _, err := st.Webhook(ctx, "wrk_b", w.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("other workspace's webhook: err = %v, want ErrNotFound", err)
		}
	})
}

func TestListWebhooksPaginates(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		var want []string
		for range 5 {
			want = append(want, newWebhook(t, st, "wrk_a", "*").ID)
		}
		newWebhook(t, st, "wrk_b", "*")
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
			page, err := st.ListWebhooks(ctx, "wrk_a", cursor, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range page.Items {
				got = append(got, w.ID)
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if !slices.Equal(got, want) {
			t.Errorf("listed %v, want %v in creation order", got, want)
		}
		var ve *models.ValidationError
		if _, err := st.ListWebhooks(ctx, "wrk_a", "%%%", 2); !errors.As(err, &ve) {
			t.Errorf("bad cursor: err = %v, want a validation error", err)
		}
	})
}

func TestMatchWebhooks(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		exact := newWebhook(t, st, "wrk_a", "CONVERSATION_CREATED")
		family := newWebhook(t, st, "wrk_a", "conversation.*", "CONVERSATION_CREATED")
		all := newWebhook(t, st, "wrk_a", "*")
		newWebhook(t, st, "wrk_a", "MESSAGE_CREATED")
		paused := newWebhook(t, st, "wrk_a", "*")
		if _, err := st.PauseWebhook(ctx, paused.WorkspaceID, paused.ID, "test"); err != nil {
			t.Fatal(err)
		}
		newWebhook(t, st, "wrk_b", "*")
		typ, _ := models.LookupEvent("CONVERSATION_CREATED")
		got, err := st.MatchWebhooks(ctx, "wrk_a", typ, "")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{exact.ID, family.ID, all.ID}; !slices.Equal(got, want) {
			t.Errorf("MatchWebhooks = %v, want %v", got, want)
		}
	})
}

// Filters are read with the match and evaluated against the event's
// stored payload; without the event's id they cannot be, and the webhook
// matches as it did before filters existed.
func TestMatchWebhooksAppliesFilters(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		plain := newWebhook(t, st, "wrk_a", "*")
		w, err := models.NewWebhook{URL: "https://example.com/f", Events: []string{"*"},
			Filters: []models.Filter{{Path: "contact.vip", Equals: []byte("true")}}}.Validate("wrk_a", models.URLPolicy{})
		if err != nil {
			t.Fatal(err)
		}
		filtered, err := st.CreateWebhook(ctx, w, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0)
		if err != nil {
			t.Fatal(err)
		}
		typ, _ := models.LookupEvent("contact.created")
		for id, payload := range map[string]string{"evt_vip": `{"contact": {"vip": true}}`, "evt_plain": `{"contact": {"vip": false}}`} {
			ev := models.Event{ID: id, WorkspaceID: "wrk_a", Type: typ, OccurredAt: time.Now(), ReceivedAt: time.Now(), Payload: []byte(payload)}
			if err := st.SaveEvents(ctx, []models.Event{ev}); err != nil {
				t.Fatal(err)
			}
		}
		for event, want := range map[string][]string{
			"evt_vip":   {plain.ID, filtered.ID},
			"evt_plain": {plain.ID},
			"evt_gone":  {plain.ID},
			"":          {plain.ID, filtered.ID},
		} {
			got, err := st.MatchWebhooks(ctx, "wrk_a", typ, event)
			slices.Sort(want)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("match %q = %v, %v; want %v", event, got, err, want)
			}
		}
		got, err := st.Webhook(ctx, "wrk_a", filtered.ID)
		if err != nil || len(got.Filters) != 1 || got.Filters[0].Path != "contact.vip" || string(got.Filters[0].Equals) != "true" {
			t.Errorf("read back: %+v, %v", got.Filters, err)
		}
	})
}

func TestDeliveryInputsPauseAndAttempts(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "*")
		saveEvent(t, st, "evt_t")
		job, err := st.DeliveryInputs(ctx, w.ID, "evt_t", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		got, secrets := job.Webhook, job.Secrets
		if got.ID != w.ID || len(secrets) != 1 || !strings.HasPrefix(secrets[0], "whsec_") {
			t.Errorf("DeliveryInputs = %+v, %v", got, secrets)
		}
		at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
		if _, err := st.RecordAttempt(ctx, w.WorkspaceID, w.ID, at, "endpoint answered 500", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := st.PauseWebhook(ctx, w.WorkspaceID, w.ID, "endpoint answered 410 Gone"); err != nil {
			t.Fatal(err)
		}
		got, err = st.Webhook(ctx, "wrk_a", w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != models.WebhookPaused || got.PausedReason != "endpoint answered 410 Gone" {
			t.Errorf("after pause: status %s reason %q", got.Status, got.PausedReason)
		}
		if got.LastAttemptedAt == nil || !got.LastAttemptedAt.Equal(at) || got.LastErrorAt == nil || got.LastErrorMessage != "endpoint answered 500" {
			t.Errorf("after attempt: %+v", got)
		}
		if _, err := st.DeliveryInputs(ctx, "wh_missing", "evt_t", time.Now()); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("missing webhook: err = %v, want ErrNotFound", err)
		}
	})
}

func TestAPIKeysAreStoredHashed(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, url string) {
		ctx := context.Background()
		value, err := store.NewKeyValue()
		if err != nil {
			t.Fatal(err)
		}
		k, err := st.CreateAPIKey(ctx, models.APIKey{WorkspaceID: "wrk_a", Scopes: []string{models.ScopeAPIUser}}, value, "test")
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.APIKeyByValue(ctx, value)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != k.ID || got.WorkspaceID != "wrk_a" || !got.Has(models.ScopeAPIUser) || got.Has(models.ScopeEventsWrite) {
			t.Errorf("APIKeyByValue = %+v", got)
		}
		if _, err := st.APIKeyByValue(ctx, value+"x"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("unknown key: err = %v, want ErrNotFound", err)
		}
		if dump := dumpTable(t, url, "api_keys"); strings.Contains(dump, value[len(store.KeyPrefix)+6:]) {
			t.Errorf("the raw key is stored: %s", dump)
		}
	})
}

// dumpTable returns every column of every row as text.
func dumpTable(t *testing.T, url, table string) string {
	t.Helper()
	db := rawDB(t, url)
	rows, err := db.Query("SELECT * FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if bs, ok := v.([]byte); ok {
				b.Write(bs)
			} else {
				b.WriteString(strings.TrimSpace(strings.ReplaceAll(fmt.Sprint(v), "\n", " ")))
			}
			b.WriteByte('|')
		}
	}
	return b.String()
}

func TestSecretsAreEncryptedAndRotate(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, url string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "*") // secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
		saveEvent(t, st, "evt_r")
		if dump := dumpTable(t, url, "webhook_secrets"); strings.Contains(dump, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") {
			t.Errorf("secret stored in clear: %s", dump)
		}
		newSecret := "whsec_c2Vjb25kLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm"
		before := time.Now()
		until, err := st.RotateSecret(ctx, "wrk_a", w.ID, newSecret, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if until.Before(before.Add(time.Hour)) || until.After(now.Add(time.Hour)) {
			t.Errorf("old secrets expire at %s, want an hour after the rotation (%s)", until, before)
		}
		job, err := st.DeliveryInputs(ctx, w.ID, "evt_r", now)
		during := job.Secrets
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(during, []string{newSecret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}) {
			t.Errorf("during the grace period: %v, want new then old", during)
		}
		job, err = st.DeliveryInputs(ctx, w.ID, "evt_r", now.Add(61*time.Minute))
		after := job.Secrets
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(after, []string{newSecret}) {
			t.Errorf("after the grace period: %v, want only the new secret", after)
		}
		if _, err := st.RotateSecret(ctx, "wrk_b", w.ID, newSecret, 0); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("rotating another workspace's webhook: %v, want ErrNotFound", err)
		}
		// Another key cannot read the secrets.
		other, err := store.Open(ctx, url, store.Options{EncryptionKey: []byte("another-key-0123456789abcdefghij")})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if _, err := other.DeliveryInputs(ctx, w.ID, "evt_r", now); err == nil {
			t.Error("secrets open with another encryption key")
		}
		noKey, err := store.Open(ctx, url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer noKey.Close()
		if _, err := noKey.Secrets(ctx, "wrk_a", w.ID); !errors.Is(err, store.ErrNoEncryptionKey) {
			t.Errorf("secrets without a key: %v, want ErrNoEncryptionKey", err)
		}
	})
}

func TestRevokedKeysFailAtOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		value, _ := store.NewKeyValue()
		k, err := st.CreateAPIKey(ctx, models.APIKey{Scopes: []string{models.ScopeEventsWrite}}, value, "platform")
		if err != nil {
			t.Fatal(err)
		}
		keys, err := st.ListAPIKeys(ctx)
		if err != nil || len(keys) != 1 || keys[0].ID != k.ID || keys[0].RevokedAt != nil || keys[0].Name != "platform" {
			t.Fatalf("ListAPIKeys = %+v, %v", keys, err)
		}
		if _, err := st.RevokeAPIKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.APIKeyByValue(ctx, value); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("revoked key still resolves: %v", err)
		}
		if _, err := st.RevokeAPIKey(ctx, k.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("revoking twice: %v, want ErrNotFound", err)
		}
	})
}

func TestConcurrentUpdatesApplyOneAfterTheOther(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "*")
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("n%02d", i)
				events := []string{"CONVERSATION_CREATED"}
				if i%2 == 1 {
					events = []string{"MESSAGE_CREATED"}
				}
				_, err := st.UpdateWebhook(ctx, "wrk_a", w.ID, func(w *models.Webhook) error {
					w.DisplayName, w.URL, w.Events = name, "https://example.com/"+name, events
					return nil
				})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("update: %v", err)
			}
		}
		got, err := st.Webhook(ctx, "wrk_a", w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.URL != "https://example.com/"+got.DisplayName {
			t.Errorf("url %s and name %s come from different updates", got.URL, got.DisplayName)
		}
		typ, _ := models.LookupEvent(got.Events[0])
		ids, _ := st.MatchWebhooks(ctx, "wrk_a", typ, "")
		if len(got.Events) != 1 || len(ids) != 1 {
			t.Errorf("events %v, matching %v: subscriptions disagree with the stored events", got.Events, ids)
		}
	})
}

func TestDeliveryInputs(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "*")
		typ, _ := models.LookupEvent("contact.created")
		ev := models.Event{ID: "evt_in", WorkspaceID: "wrk_a", Type: typ, OccurredAt: time.Unix(1700000000, 0).UTC(), ReceivedAt: time.Now().UTC(), Payload: []byte(`{"a": 1}`)}
		if err := st.SaveEvents(ctx, []models.Event{ev}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RotateSecret(ctx, "wrk_a", w.ID, "whsec_c2Vjb25kLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm", time.Hour); err != nil {
			t.Fatal(err)
		}
		job, err := st.DeliveryInputs(ctx, w.ID, ev.ID, time.Now())
		gotW, secrets, gotE := job.Webhook, job.Secrets, job.Event
		if err != nil {
			t.Fatal(err)
		}
		if gotW.ID != w.ID || gotE.ID != ev.ID || string(gotE.Payload) != `{"a": 1}` || !gotE.OccurredAt.Equal(ev.OccurredAt) || gotE.Type != typ {
			t.Errorf("DeliveryInputs = %+v, %+v", gotW, gotE)
		}
		if !slices.Equal(secrets, []string{"whsec_c2Vjb25kLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}) {
			t.Errorf("secrets = %v, want new then old", secrets)
		}
		var nf *models.NotFoundError
		if _, err := st.DeliveryInputs(ctx, w.ID, "evt_gone", time.Now()); !errors.As(err, &nf) || nf.Kind != "event" {
			t.Errorf("missing event: %v", err)
		}
		if _, err := st.DeliveryInputs(ctx, "wh_gone", ev.ID, time.Now()); !errors.As(err, &nf) || nf.Kind != "webhook" {
			t.Errorf("missing webhook: %v", err)
		}
		// Another workspace's webhook never reads this workspace's event,
		// even by its id.
		wb := newWebhook(t, st, "wrk_b", "*")
		if _, err := st.DeliveryInputs(ctx, wb.ID, ev.ID, time.Now()); !errors.As(err, &nf) || nf.Kind != "event" {
			t.Errorf("wrk_b's webhook with wrk_a's event id: err = %v, want the event not found", err)
		}
		own := ev
		own.WorkspaceID, own.Payload = "wrk_b", []byte(`{"b": 2}`)
		if err := st.SaveEvents(ctx, []models.Event{own}); err != nil {
			t.Fatal(err)
		}
		job, err = st.DeliveryInputs(ctx, wb.ID, ev.ID, time.Now())
		if err != nil || string(job.Event.Payload) != `{"b": 2}` || job.Event.WorkspaceID != "wrk_b" {
			t.Errorf("wrk_b's own evt_in = %+v, %v; want wrk_b's payload", job.Event, err)
		}
	})
}

func TestAutoPauseAfterARunOfFailures(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "*")
		t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		window := 5 * 24 * time.Hour
		record := func(at time.Time, errMsg string) bool {
			t.Helper()
			announce, err := st.RecordAttempt(ctx, w.WorkspaceID, w.ID, at, errMsg, window)
			if err != nil {
				t.Fatal(err)
			}
			return len(announce) > 0
		}
		status := func() models.WebhookStatus {
			t.Helper()
			got, err := st.Webhook(ctx, "wrk_a", w.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got.Status
		}
		if record(t0, "refused") || record(t0.Add(4*24*time.Hour), "refused") || status() != models.WebhookActive {
			t.Fatal("paused before the window passed")
		}
		// A success ends the run: failures must last a whole window again.
		record(t0.Add(4*24*time.Hour+time.Hour), "")
		if record(t0.Add(6*24*time.Hour), "refused") || status() != models.WebhookActive {
			t.Fatal("paused although a success came within the window")
		}
		if record(t0.Add(6*24*time.Hour+window-time.Minute), "refused") {
			t.Fatal("paused a minute before the run lasted the window")
		}
		if !record(t0.Add(6*24*time.Hour+window), "endpoint answered 503") {
			t.Fatal("not paused after failing for the whole window")
		}
		got, _ := st.Webhook(ctx, "wrk_a", w.ID)
		if got.Status != models.WebhookPaused || !strings.Contains(got.PausedReason, "every delivery attempt failed for 120h0m0s") {
			t.Errorf("after the window: %s %q", got.Status, got.PausedReason)
		}
		// Resuming starts the clock afresh.
		if _, err := st.UpdateWebhook(ctx, "wrk_a", w.ID, func(w *models.Webhook) error { w.Status = models.WebhookActive; return nil }); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.Webhook(ctx, "wrk_a", w.ID); got.PausedReason != "" {
			t.Errorf("resumed webhook keeps the reason %q", got.PausedReason)
		}
		if record(t0.Add(20*24*time.Hour), "refused") || status() != models.WebhookActive {
			t.Error("paused again at the first failure after resuming")
		}
	})
}

// With NoMigrate, Open applies nothing and CheckSchema refuses a database
// that lacks migrations, naming them and the command that applies them;
// Migrate applies each once.
func TestMigrateIsAStepOfItsOwn(t *testing.T) {
	for _, backend := range testenv.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			st, err := store.Open(ctx, testenv.DatabaseURL(t, backend), store.Options{NoMigrate: true})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			err = st.CheckSchema(ctx)
			if !errors.Is(err, store.ErrSchemaBehind) || !strings.Contains(err.Error(), "0001_init") || !strings.Contains(err.Error(), "tidyhooks migrate") {
				t.Fatalf("check a fresh database: %v", err)
			}
			applied, err := st.Migrate(ctx)
			if err != nil || len(applied) < 5 || applied[0] != "0001_init.sql" {
				t.Fatalf("migrate a fresh database: %v, %v", applied, err)
			}
			if err := st.CheckSchema(ctx); err != nil {
				t.Errorf("check a migrated database: %v", err)
			}
			if applied, err := st.Migrate(ctx); err != nil || len(applied) != 0 {
				t.Errorf("migrate an up-to-date database: %v, %v", applied, err)
			}
		})
	}
}

// A database migrated by the versions before goose (their own runner and
// schema_migrations rows) upgrades in place: goose reads the same table,
// applies only what is missing, and the data stays; subscriptions kept
// twice before 0006 are kept once, in the order they were given.
func TestUpgradeFromTheEarlierMigrationRunner(t *testing.T) {
	for _, backend := range testenv.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			url := testenv.DatabaseURL(t, backend)
			old, err := store.Open(ctx, url, store.Options{NoMigrate: true, EncryptionKey: testenv.EncryptionKey})
			if err != nil {
				t.Fatal(err)
			}
			if err := old.MigrateAsBefore(ctx, 4); err != nil {
				t.Fatal(err)
			}
			events := []string{"MESSAGE_CREATED", "CONVERSATION_*", "CONTACT_CREATED"}
			if err := old.InsertWebhookAsBefore(ctx, "wh_before", "wrk_a", "https://example.com/hook", events); err != nil {
				t.Fatal(err)
			}
			if err := old.InsertEventAsBefore(ctx, "wrk_a", "evt_before"); err != nil {
				t.Fatal(err)
			}
			if err := old.CheckSchema(ctx); !errors.Is(err, store.ErrSchemaBehind) || !strings.Contains(err.Error(), "0005_") || strings.Contains(err.Error(), "0004_") {
				t.Fatalf("schema at version 4: %v, want 0005 and later missing", err)
			}
			old.Close()

			st, err := store.Open(ctx, url, store.Options{EncryptionKey: testenv.EncryptionKey})
			if err != nil {
				t.Fatalf("open with migrations: %v", err)
			}
			defer st.Close()
			if err := st.CheckSchema(ctx); err != nil {
				t.Fatalf("after the upgrade: %v", err)
			}
			if applied, err := st.Migrate(ctx); err != nil || len(applied) != 0 {
				t.Errorf("a second migrate applied %v (err %v)", applied, err)
			}
			// The records goose adds name their files, as the earlier ones do.
			names, err := st.MigrationNames(ctx)
			if err != nil || len(names) < 6 || names[4] != "0005_retries_waiting.sql" || names[5] != "0006_subscriptions_once.sql" {
				t.Errorf("schema_migrations names = %v (err %v)", names, err)
			}
			if got, err := st.Webhook(ctx, "wrk_a", "wh_before"); err != nil || got.URL != "https://example.com/hook" || !slices.Equal(got.Events, events) {
				t.Errorf("webhook after the upgrade: %+v (err %v), want its events %v in that order", got, err, events)
			}
			typ, _ := models.LookupEvent("CONVERSATION_CREATED")
			if ids, err := st.MatchWebhooks(ctx, "wrk_a", typ, ""); err != nil || !slices.Equal(ids, []string{"wh_before"}) {
				t.Errorf("matching after the upgrade: %v (err %v)", ids, err)
			}
			if _, err := st.Event(ctx, "wrk_a", "evt_before"); err != nil {
				t.Errorf("event after the upgrade: %v", err)
			}
		})
	}
}

// Custom headers and endpoint auth are stored encrypted, read back whole
// by the webhook's reads and by delivery, and changed by updates.
func TestEndpointSettingsAreSealedAtRest(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, url string) {
		ctx := context.Background()
		w, err := models.NewWebhook{URL: "https://example.com/h", Events: []string{"*"},
			Headers: map[string]string{"X-Api-Key": "plain-header-value"},
			Auth:    &models.EndpointAuth{Type: "basic", Username: "u", Password: "plain-password"}}.Validate("wrk_a", models.URLPolicy{})
		if err != nil {
			t.Fatal(err)
		}
		created, err := st.CreateWebhook(ctx, w, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0)
		if err != nil {
			t.Fatal(err)
		}
		raw := rawColumn(t, url, "SELECT endpoint FROM webhooks WHERE id = '"+created.ID+"'")
		if !strings.HasPrefix(raw, "v2:"+store.KeyID(testenv.EncryptionKey)+":") || strings.Contains(raw, "plain") {
			t.Errorf("endpoint column holds %q", raw)
		}
		got, err := st.Webhook(ctx, "wrk_a", created.ID)
		if err != nil || got.Headers["X-Api-Key"] != "plain-header-value" || got.Auth == nil || got.Auth.Password != "plain-password" {
			t.Fatalf("read back: %+v, %v", got, err)
		}
		saveEvent(t, st, "evt_endpoint")
		job, err := st.DeliveryInputs(ctx, created.ID, "evt_endpoint", time.Now())
		if err != nil || job.Webhook.Headers["X-Api-Key"] != "plain-header-value" || job.Webhook.Auth.Username != "u" {
			t.Fatalf("delivery inputs: %+v, %v", job.Webhook, err)
		}
		page, err := st.ListWebhooks(ctx, "wrk_a", "", 10)
		if err != nil || len(page.Items) != 1 || page.Items[0].Auth == nil {
			t.Fatalf("list: %+v, %v", page, err)
		}
		updated, err := st.UpdateWebhook(ctx, "wrk_a", created.ID, func(w *models.Webhook) error {
			w.Headers, w.Auth = nil, nil
			return nil
		})
		if err != nil || updated.Headers != nil || updated.Auth != nil {
			t.Fatalf("cleared: %+v, %v", updated, err)
		}
		if raw := rawColumn(t, url, "SELECT COALESCE(endpoint, 'NULL') FROM webhooks WHERE id = '"+created.ID+"'"); raw != "NULL" {
			t.Errorf("cleared endpoint column holds %q", raw)
		}
	})
}

// OAuth2 tokens are shared through the store: sealed, per webhook and
// settings, until they expire; dropped only while they are still the one
// refused.
func TestOAuthTokensAreShared(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, url string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "*")
		now := time.Now().UTC()
		if _, _, ok, err := st.OAuthToken(ctx, w.ID, "s1", now); ok || err != nil {
			t.Fatalf("before any: ok %v, err %v", ok, err)
		}
		if err := st.SaveOAuthToken(ctx, w.ID, "s1", "tok-plain-1", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if raw := rawColumn(t, url, "SELECT token FROM oauth_tokens"); strings.Contains(raw, "tok-plain") {
			t.Errorf("token stored as %q", raw)
		}
		if tok, exp, ok, err := st.OAuthToken(ctx, w.ID, "s1", now); !ok || err != nil || tok != "tok-plain-1" || exp.Sub(now.Add(time.Hour)).Abs() > time.Second {
			t.Errorf("read: %q %v %v %v", tok, exp, ok, err)
		}
		if _, _, ok, _ := st.OAuthToken(ctx, w.ID, "s2", now); ok {
			t.Error("a token fetched with other settings was used")
		}
		if _, _, ok, _ := st.OAuthToken(ctx, w.ID, "s1", now.Add(2*time.Hour)); ok {
			t.Error("an expired token was used")
		}
		if err := st.SaveOAuthToken(ctx, w.ID, "s1", "tok-plain-2", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		// Dropping the token another worker already replaced leaves the new one.
		if err := st.DropOAuthToken(ctx, w.ID, "s1", "tok-plain-1"); err != nil {
			t.Fatal(err)
		}
		if tok, _, ok, _ := st.OAuthToken(ctx, w.ID, "s1", now); !ok || tok != "tok-plain-2" {
			t.Errorf("after dropping a replaced token: %q %v", tok, ok)
		}
		if err := st.DropOAuthToken(ctx, w.ID, "s1", "tok-plain-2"); err != nil {
			t.Fatal(err)
		}
		if _, _, ok, _ := st.OAuthToken(ctx, w.ID, "s1", now); ok {
			t.Error("a dropped token is still read")
		}
		// A deleted webhook's token goes with it; none is saved for a webhook that is gone.
		if err := st.SaveOAuthToken(ctx, w.ID, "s1", "tok-3", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteWebhook(ctx, "wrk_a", w.ID); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveOAuthToken(ctx, w.ID, "s1", "tok-4", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if raw := rawColumn(t, url, "SELECT COUNT(*) FROM oauth_tokens"); raw != "0" {
			t.Errorf("%s tokens left after the webhook was deleted", raw)
		}
	})
}

// rawColumn runs a query for one value on a connection of its own and
// returns it as text.
func rawColumn(t *testing.T, url, query string) string {
	t.Helper()
	var v sql.NullString
	if err := rawDB(t, url).QueryRow(query).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v.String
}

// Reservations space a throttled webhook's deliveries, refuse turns past
// the horizon, and hold at most MaxInFlight leases until released or
// expired.
func TestReserveDelivery(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		w := newWebhook(t, st, "wrk_a", "*")
		now := time.Now()
		rate := models.Throttle{MaxPerSecond: 4} // one each 250 ms
		var waits []time.Duration
		for range 4 {
			r, err := st.ReserveDelivery(ctx, w.ID, rate, now, time.Second, 30*time.Second)
			if err != nil || r.RetryAfter != 0 || r.Lease != "" {
				t.Fatalf("reservation %+v, %v", r, err)
			}
			waits = append(waits, r.Wait)
		}
		if want := []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond}; !slices.Equal(waits, want) {
			t.Errorf("waits %v, want %v", waits, want)
		}
		// The next turn is 1 s away: no further than the horizon, so taken;
		// the one after is not, and is told to ask again.
		if r, _ := st.ReserveDelivery(ctx, w.ID, rate, now, time.Second, 30*time.Second); r.Wait != time.Second {
			t.Errorf("at the horizon: %+v", r)
		}
		if r, _ := st.ReserveDelivery(ctx, w.ID, rate, now, time.Second, 30*time.Second); r.RetryAfter != 750*time.Millisecond || r.Wait != 0 {
			t.Errorf("past the horizon: %+v", r)
		}

		conc := models.Throttle{MaxInFlight: 2}
		a, _ := st.ReserveDelivery(ctx, w.ID, conc, now, 0, 30*time.Second)
		b, _ := st.ReserveDelivery(ctx, w.ID, conc, now, 0, 30*time.Second)
		c, _ := st.ReserveDelivery(ctx, w.ID, conc, now, 0, 30*time.Second)
		if a.Lease == "" || b.Lease == "" || c.Lease != "" || c.RetryAfter == 0 {
			t.Fatalf("leases %+v %+v %+v", a, b, c)
		}
		if err := st.ReleaseLease(ctx, a.Lease); err != nil {
			t.Fatal(err)
		}
		if d, _ := st.ReserveDelivery(ctx, w.ID, conc, now, 0, 30*time.Second); d.Lease == "" {
			t.Errorf("after a release: %+v", d)
		}
		// A lost worker's lease expires.
		if e, _ := st.ReserveDelivery(ctx, w.ID, conc, now.Add(31*time.Second), 0, 30*time.Second); e.Lease == "" {
			t.Errorf("after the leases expired: %+v", e)
		}
		// A webhook that is gone has no throttle.
		if r, err := st.ReserveDelivery(ctx, "wh_gone", rate, now, time.Second, 30*time.Second); err != nil || r != (models.Reservation{}) {
			t.Errorf("gone webhook: %+v, %v", r, err)
		}
	})
}

// rawDB is a connection of its own to the store's database, closed when
// the test ends.
func rawDB(t *testing.T, url string) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", url
	if rest, ok := strings.CutPrefix(url, "sqlite:"); ok {
		driver, dsn = "sqlite", rest
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// An automatic pause is announced once, in the same transaction: the
// webhook.paused event is stored and returned, and the sweep finds it; the
// pause waits to be acknowledged, a pause asked for does not. Another
// workspace cannot acknowledge it.
func TestAutomaticPauseIsAnnouncedAndAcknowledged(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		since := time.Now().Add(-time.Minute)
		w := newWebhook(t, st, "wrk_a", "*")
		announce, err := st.PauseWebhook(ctx, "wrk_a", w.ID, "endpoint answered 410 Gone")
		if err != nil || len(announce) != 1 {
			t.Fatalf("pause: %v, %v", announce, err)
		}
		ev := announce[0]
		var payload struct {
			Webhook struct{ ID, URL string }
			Reason  string
		}
		if err := json.Unmarshal(ev.Payload, &payload); err != nil || ev.Type != models.WebhookPausedEvent || ev.WorkspaceID != "wrk_a" ||
			payload.Webhook.ID != w.ID || payload.Webhook.URL != w.URL || payload.Reason != "endpoint answered 410 Gone" {
			t.Errorf("announcement = %+v (%s)", ev, ev.Payload)
		}
		if stored, err := st.Event(ctx, "wrk_a", ev.ID); err != nil || string(stored.Payload) != string(ev.Payload) {
			t.Errorf("stored announcement = %+v, %v", stored, err)
		}
		// Paused again (a second 410): no second announcement.
		if again, err := st.PauseWebhook(ctx, "wrk_a", w.ID, "endpoint answered 410 Gone"); err != nil || len(again) != 0 {
			t.Errorf("second pause announced %v (%v)", again, err)
		}
		if found, err := st.PauseAnnouncements(ctx, since); err != nil || len(found) != 1 || found[0].ID != ev.ID {
			t.Errorf("PauseAnnouncements = %v, %v", found, err)
		}
		got, _ := st.Webhook(ctx, "wrk_a", w.ID)
		if got.PausedAt == nil || got.PauseAcknowledgedAt != nil {
			t.Errorf("paused at %v, acknowledged at %v", got.PausedAt, got.PauseAcknowledgedAt)
		}
		if _, err := st.AcknowledgePause(ctx, "wrk_b", w.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("another workspace acknowledges: %v", err)
		}
		if got, err := st.AcknowledgePause(ctx, "wrk_a", w.ID); err != nil || got.PauseAcknowledgedAt == nil {
			t.Errorf("acknowledge: %+v, %v", got, err)
		}
		// Resumed: nothing to acknowledge.
		if _, err := st.UpdateWebhook(ctx, "wrk_a", w.ID, func(w *models.Webhook) error { w.Status = models.WebhookActive; return nil }); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.Webhook(ctx, "wrk_a", w.ID); got.PausedAt != nil || got.PauseAcknowledgedAt != nil {
			t.Errorf("resumed webhook keeps its pause: %+v", got)
		}
		if _, err := st.AcknowledgePause(ctx, "wrk_a", w.ID); !errors.Is(err, models.ErrConflict) {
			t.Errorf("acknowledging an active webhook: %v", err)
		}
		// Paused on request: taken note of already, not announced.
		manual, err := st.UpdateWebhook(ctx, "wrk_a", w.ID, func(w *models.Webhook) error { w.Status = models.WebhookPaused; return nil })
		if err != nil || manual.PausedAt == nil || manual.PauseAcknowledgedAt == nil {
			t.Errorf("paused on request: %+v, %v", manual, err)
		}
		if found, _ := st.PauseAnnouncements(ctx, since); len(found) != 1 {
			t.Errorf("a pause on request was announced: %v", found)
		}
	})
}
