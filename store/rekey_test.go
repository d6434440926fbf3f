package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
)

// The encryption key rotates while deliveries run: with the new key first
// and the old after it, every value opens; rekey re-seals them all (the
// endpoint settings, the signing secrets, OAuth2 tokens and values sealed
// before keys had ids) while secrets are read and rotated beside it, in
// batches, resumably; then the old key can go. A store missing a key it
// needs says so at start, naming the key and what it seals.
func TestKeyRotationUnderLoad(t *testing.T) {
	oldKey := []byte(strings.Repeat("o", store.KeySize))
	newKey := []byte(strings.Repeat("n", store.KeySize))
	eachBackend(t, func(t *testing.T, _ *store.Store, url string) {
		ctx := context.Background()
		old, err := store.Open(ctx, url, store.Options{EncryptionKey: oldKey})
		if err != nil {
			t.Fatal(err)
		}
		defer old.Close()
		var hooks []models.Webhook
		for i := range 60 {
			w, err := models.NewWebhook{URL: "https://example.com/r", Events: []string{"*"}, Headers: map[string]string{"X-Api-Key": "k"},
				Auth: &models.EndpointAuth{Type: "basic", Username: "u", Password: "p"}}.Validate("wrk_r", models.URLPolicy{})
			if err != nil {
				t.Fatal(err)
			}
			if w, err = old.CreateWebhook(ctx, w, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0); err != nil {
				t.Fatal(err)
			}
			if i%10 == 0 {
				if err := old.SaveOAuthToken(ctx, w.ID, "settings", "token", time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			hooks = append(hooks, w)
		}
		// One secret as values were sealed before keys had ids.
		db := rawDB(t, url)
		if _, err := db.Exec("UPDATE webhook_secrets SET secret = 'v1:' || substr(secret, 13) WHERE webhook_id = '" + hooks[0].ID + "'"); err != nil {
			t.Fatal(err)
		}

		both, err := store.Open(ctx, url, store.Options{EncryptionKeys: [][]byte{newKey, oldKey}})
		if err != nil {
			t.Fatal(err)
		}
		defer both.Close()
		if err := both.CheckKeys(ctx); err != nil {
			t.Fatalf("both keys: %v", err)
		}
		// Deliveries read secrets and a customer rotates one, throughout.
		var stop atomic.Bool
		var wg sync.WaitGroup
		var readErr atomic.Value
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				w := hooks[i%len(hooks)]
				if _, err := both.Secrets(ctx, "wrk_r", w.ID); err != nil {
					readErr.Store(err)
					return
				}
				if _, err := both.Webhook(ctx, "wrk_r", w.ID); err != nil {
					readErr.Store(err)
					return
				}
				if i%7 == 0 {
					if _, err := both.RotateSecret(ctx, "wrk_r", w.ID, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"+string(rune('a'+i%26)), time.Hour); err != nil {
						readErr.Store(err)
						return
					}
				}
			}
		})
		// Stopped after the first batch, then run again to the end.
		stopped, cancel := context.WithCancel(ctx)
		_, err = both.Rekey(stopped, 10, func(string, int) { cancel() })
		if !errors.Is(err, context.Canceled) {
			t.Logf("first run: %v", err)
		}
		res, err := both.Rekey(ctx, 10, nil)
		stop.Store(true)
		wg.Wait()
		if err != nil {
			t.Fatalf("rekey: %v", err)
		}
		if e := readErr.Load(); e != nil {
			t.Fatalf("a read beside the rekey failed: %v", e)
		}
		if res.Resealed["webhook endpoint settings (headers and credentials)"] == 0 || res.Resealed["OAuth2 tokens"] == 0 {
			t.Errorf("re-sealed %v", res.Resealed)
		}

		only, err := store.Open(ctx, url, store.Options{EncryptionKey: newKey})
		if err != nil {
			t.Fatal(err)
		}
		defer only.Close()
		if err := only.CheckKeys(ctx); err != nil {
			t.Fatalf("the new key alone after the rekey: %v", err)
		}
		for _, w := range hooks {
			got, err := only.Webhook(ctx, "wrk_r", w.ID)
			if err != nil || got.Auth == nil || got.Auth.Password != "p" {
				t.Fatalf("webhook %s with the new key alone: %+v, %v", w.ID, got.Auth, err)
			}
			if s, err := only.Secrets(ctx, "wrk_r", w.ID); err != nil || len(s) == 0 {
				t.Fatalf("secrets of %s with the new key alone: %v", w.ID, err)
			}
		}
		if _, _, ok, err := only.OAuthToken(ctx, hooks[10].ID, "settings", time.Now()); err != nil || ok {
			// A token's lookup key is derived from the sealing key: a new
			// key fetches anew (the old row stays until replaced).
			t.Logf("token with the new key: ok=%v err=%v", ok, err)
		}

		// The old key alone is refused at start, naming the key.
		stale, err := store.Open(ctx, url, store.Options{EncryptionKey: oldKey})
		if err != nil {
			t.Fatal(err)
		}
		defer stale.Close()
		err = stale.CheckKeys(ctx)
		if !errors.Is(err, store.ErrKeysMissing) || !strings.Contains(err.Error(), store.KeyID(newKey)) || !strings.Contains(err.Error(), "webhook signing secrets") {
			t.Errorf("the old key alone: %v", err)
		}
	})
}
