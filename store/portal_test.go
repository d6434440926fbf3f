package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
)

// A portal code opens one session, once, within its five minutes; the
// session lives for its TTL until signed out. Only hashes are stored.
func TestPortalCodeOpensOneSession(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		clock := time.Now().UTC()
		st.SetClock(func() time.Time { return clock })
		code, expires, err := st.CreatePortalCode(ctx, models.PortalGrant{WorkspaceID: "wrk_a", TTL: time.Hour, ReadOnly: true, ReturnURL: "https://app.example.com/settings"})
		if err != nil || len(code) < 40 || !expires.Equal(clock.Add(store.PortalCodeTTL)) {
			t.Fatalf("code %q, expires %v, %v", code, expires, err)
		}
		sess, token, csrf, err := st.ExchangePortalCode(ctx, code)
		if err != nil || sess.WorkspaceID != "wrk_a" || !sess.ReadOnly || sess.ReturnURL != "https://app.example.com/settings" ||
			!sess.ExpiresAt.Equal(clock.Add(time.Hour)) || token == "" || csrf == "" || token == csrf {
			t.Fatalf("exchange = %+v, %q, %q, %v", sess, token, csrf, err)
		}
		if _, _, _, err := st.ExchangePortalCode(ctx, code); !errors.Is(err, models.ErrPortalCodeUsed) {
			t.Errorf("second exchange: %v", err)
		}
		if _, _, _, err := st.ExchangePortalCode(ctx, "not-a-code"); !errors.Is(err, models.ErrPortalCodeUnknown) {
			t.Errorf("unknown code: %v", err)
		}
		got, err := st.PortalSession(ctx, token)
		if err != nil || got.ID != sess.ID {
			t.Fatalf("session by token = %+v, %v", got, err)
		}
		if _, err := st.PortalSession(ctx, csrf); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("the CSRF token opened a session: %v", err)
		}

		late, _, _ := st.CreatePortalCode(ctx, models.PortalGrant{WorkspaceID: "wrk_a", TTL: time.Hour})
		clock = clock.Add(store.PortalCodeTTL)
		if _, _, _, err := st.ExchangePortalCode(ctx, late); !errors.Is(err, models.ErrPortalCodeExpired) {
			t.Errorf("late exchange: %v", err)
		}
		clock = clock.Add(time.Hour)
		if _, err := st.PortalSession(ctx, token); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("an expired session still opens: %v", err)
		}
		clock = clock.Add(-time.Hour)
		if err := st.EndPortalSession(ctx, sess.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.PortalSession(ctx, token); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("a signed-out session still opens: %v", err)
		}
	})
}
