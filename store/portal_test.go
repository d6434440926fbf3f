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

// Revoking a key ends the portal sessions its links opened and voids its
// unspent links (they outlived it: a revoked key's session still listed
// and changed webhooks, its link still opened one); the sessions of
// other keys live on, and an operator lists and ends a workspace's.
func TestRevokingAKeyEndsItsPortalSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		key := func() models.APIKey {
			v, err := store.NewKeyValue()
			if err != nil {
				t.Fatal(err)
			}
			k, err := st.CreateAPIKey(ctx, models.APIKey{WorkspaceID: "wrk_a", Scopes: []string{models.ScopeAPIUser}}, v, "")
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
		open := func(k models.APIKey) (models.PortalSession, string) {
			code, _, err := st.CreatePortalCode(ctx, models.PortalGrant{WorkspaceID: "wrk_a", TTL: time.Hour, KeyID: k.ID})
			if err != nil {
				t.Fatal(err)
			}
			sess, token, _, err := st.ExchangePortalCode(ctx, code)
			if err != nil {
				t.Fatal(err)
			}
			return sess, token
		}
		revoked, kept := key(), key()
		s1, t1 := open(revoked)
		_, t2 := open(revoked)
		s3, t3 := open(kept)
		unspent, _, err := st.CreatePortalCode(ctx, models.PortalGrant{WorkspaceID: "wrk_a", TTL: time.Hour, KeyID: revoked.ID})
		if err != nil {
			t.Fatal(err)
		}
		list, err := st.PortalSessions(ctx, "wrk_a")
		if err != nil || len(list) != 3 || list[0].ID != s3.ID || list[0].KeyID != kept.ID {
			t.Fatalf("sessions = %+v, %v", list, err)
		}
		if other, err := st.PortalSessions(ctx, "wrk_b"); err != nil || len(other) != 0 {
			t.Errorf("another workspace lists %+v, %v", other, err)
		}

		ended, err := st.RevokeAPIKey(ctx, revoked.ID)
		if err != nil || ended.PortalSessions != 2 || ended.PortalLinks != 1 {
			t.Fatalf("revoke = %+v, %v: want 2 sessions and 1 link ended", ended, err)
		}
		for _, tok := range []string{t1, t2} {
			if _, err := st.PortalSession(ctx, tok); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("a session of the revoked key still opens: %v", err)
			}
		}
		if _, _, _, err := st.ExchangePortalCode(ctx, unspent); !errors.Is(err, models.ErrPortalCode) {
			t.Errorf("a link of the revoked key still opens a session: %v", err)
		}
		if got, err := st.PortalSession(ctx, t3); err != nil || got.ID != s3.ID {
			t.Errorf("another key's session ended with it: %+v, %v", got, err)
		}

		if _, err := st.EndPortalSessions(ctx, "wrk_b", s3.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("another workspace ended the session: %v", err)
		}
		if _, err := st.EndPortalSessions(ctx, "wrk_a", s1.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("ending an ended session: %v, want not found", err)
		}
		if n, err := st.EndPortalSessions(ctx, "wrk_a", ""); err != nil || n != 1 {
			t.Fatalf("end all = %d, %v: want the one live", n, err)
		}
		if _, err := st.PortalSession(ctx, t3); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("an ended session still opens: %v", err)
		}
	})
}

// A link made with a key that is revoked before the link is exchanged is
// refused, saying so, even where the revocation did not void it (a link
// made while the revocation ran).
func TestPortalLinkOfARevokedKeyIsRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, st *store.Store, _ string) {
		ctx := context.Background()
		// The key row exists and is revoked; the link was stored after.
		v, _ := store.NewKeyValue()
		k, err := st.CreateAPIKey(ctx, models.APIKey{WorkspaceID: "wrk_a", Scopes: []string{models.ScopeAPIUser}}, v, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.RevokeAPIKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		code, _, err := st.CreatePortalCode(ctx, models.PortalGrant{WorkspaceID: "wrk_a", TTL: time.Hour, KeyID: k.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := st.ExchangePortalCode(ctx, code); !errors.Is(err, models.ErrPortalCodeRevoked) {
			t.Errorf("exchange = %v, want %v", err, models.ErrPortalCodeRevoked)
		}
	})
}
