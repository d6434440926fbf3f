package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
)

func TestKeysCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "tidyhooks.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, append([]string{"keys"}, args...), envOf(nil), &out, &errOut)
		return out.String() + errOut.String(), err
	}

	out, err := keys("create", "--data-dir", dir, "--workspace", "wrk_cli", "--scope", "api_user,events:write", "--name", "ci")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	value := lines[len(lines)-1]
	if !strings.HasPrefix(value, store.KeyPrefix) {
		t.Fatalf("the last line is not the key: %q", out)
	}
	k, err := st.APIKeyByValue(ctx, value)
	if err != nil || k.WorkspaceID != "wrk_cli" || !k.Has(models.ScopeAPIUser) || !k.Has(models.ScopeEventsWrite) {
		t.Fatalf("created key = %+v, %v", k, err)
	}
	list, err := keys("list", "--data-dir", dir)
	if err != nil || !strings.Contains(list, k.ID) || strings.Contains(list, value) {
		t.Errorf("list = %q, %v: want the id and never the key", list, err)
	}
	if out, err := keys("revoke", "--data-dir", dir, k.ID); err != nil {
		t.Fatalf("revoke: %v %s", err, out)
	}
	if _, err := st.APIKeyByValue(ctx, value); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("revoked key still valid: %v", err)
	}

	// Portal sessions: listed per workspace, ended one or all, and ended
	// with the key that opened them.
	open := func(keyID string) string {
		code, _, err := st.CreatePortalCode(ctx, models.PortalGrant{WorkspaceID: "wrk_cli", TTL: time.Hour, KeyID: keyID})
		if err != nil {
			t.Fatal(err)
		}
		sess, _, _, err := st.ExchangePortalCode(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		return sess.ID
	}
	portalKey, _ := keys("create", "--data-dir", dir, "--workspace", "wrk_cli", "--scope", "api_user")
	pk, err := st.APIKeyByValue(ctx, strings.TrimSpace(portalKey[strings.LastIndex(strings.TrimSpace(portalKey), "\n")+1:]))
	if err != nil {
		t.Fatal(err)
	}
	first, second := open(pk.ID), open(pk.ID)
	if out, err := keys("sessions", "--data-dir", dir, "--workspace", "wrk_cli"); err != nil || !strings.Contains(out, first) || !strings.Contains(out, second) || !strings.Contains(out, pk.ID) {
		t.Errorf("sessions = %q, %v: want both, with their key", out, err)
	}
	if out, err := keys("end-sessions", "--data-dir", dir, "--workspace", "wrk_cli", first); err != nil || !strings.Contains(out, "Ended 1") {
		t.Errorf("end-sessions %s = %q, %v", first, out, err)
	}
	if out, err := keys("revoke", "--data-dir", dir, pk.ID); err != nil || !strings.Contains(out, "ended 1 portal sessions") {
		t.Errorf("revoke = %q, %v: want the one live session ended", out, err)
	}
	if out, err := keys("sessions", "--data-dir", dir, "--workspace", "wrk_cli"); err != nil || strings.Contains(out, "pss_") {
		t.Errorf("sessions after the revocation = %q, %v: want none", out, err)
	}
	open("")
	if out, err := keys("end-sessions", "--data-dir", dir, "--workspace", "wrk_cli", "--all"); err != nil || !strings.Contains(out, "Ended 1") {
		t.Errorf("end-sessions --all = %q, %v", out, err)
	}

	bad := []struct {
		name string
		args []string
		want string
	}{
		{"no scope", []string{"create", "--data-dir", dir, "--workspace", "wrk_x"}, "--scope"},
		{"unknown scope", []string{"create", "--data-dir", dir, "--scope", "admin"}, "unknown scope"},
		{"api_user without workspace", []string{"create", "--data-dir", dir, "--scope", "api_user"}, "bound to a workspace"},
		{"bad workspace", []string{"create", "--data-dir", dir, "--workspace", "wrk x", "--scope", "events:write"}, "workspaceId"},
		{"no database", []string{"create", "--data-dir", filepath.Join(dir, "nowhere"), "--scope", "events:write"}, "no database"},
		{"revoke without id", []string{"revoke", "--data-dir", dir}, "key id"},
		{"revoke unknown", []string{"revoke", "--data-dir", dir, "key_nope"}, "no active key"},
		{"unknown subcommand", []string{"rotate"}, "unknown subcommand"},
		{"sessions without workspace", []string{"sessions", "--data-dir", dir}, "--workspace"},
		{"sessions of a bad workspace", []string{"sessions", "--data-dir", dir, "--workspace", "wrk x"}, "workspaceId"},
		{"end without id", []string{"end-sessions", "--data-dir", dir, "--workspace", "wrk_cli"}, "--all"},
		{"end with id and all", []string{"end-sessions", "--data-dir", dir, "--workspace", "wrk_cli", "--all", "pss_x"}, "not both"},
		{"end an unknown session", []string{"end-sessions", "--data-dir", dir, "--workspace", "wrk_cli", "pss_nope"}, "no live portal session"},
	}
	before, _ := st.ListAPIKeys(ctx)
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			out, err := keys(tt.args...)
			if err == nil || !strings.Contains(err.Error()+out, tt.want) {
				t.Errorf("= %v %q, want an error mentioning %q", err, out, tt.want)
			}
		})
	}
	after, _ := st.ListAPIKeys(ctx)
	if len(after) != len(before) {
		t.Errorf("bad commands created keys: %d -> %d", len(before), len(after))
	}
}
