package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/store"
)

// `tidyhooks rekey` re-seals with the first of TIDYHOOKS_ENCRYPTION_KEYS
// and says when the others may go; bad input changes nothing.
func TestRekeyCommand(t *testing.T) {
	ctx := context.Background()
	url := "sqlite:" + filepath.Join(t.TempDir(), "tidyhooks.db")
	oldKey, newKey := []byte(strings.Repeat("a", store.KeySize)), []byte(strings.Repeat("b", store.KeySize))
	st, err := store.Open(ctx, url, store.Options{EncryptionKey: oldKey})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := models.NewWebhook{URL: "https://example.com/k", Events: []string{"*"}}.Validate("wrk_k", models.URLPolicy{})
	if _, err := st.CreateWebhook(ctx, w, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0); err != nil {
		t.Fatal(err)
	}
	st.Close()
	b64 := base64.StdEncoding.EncodeToString
	rekey := func(env map[string]string, args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"rekey"}, args...), envOf(env), &out, &out)
		return out.String(), err
	}
	for _, bad := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"DATABASE_URL": url}, nil, "TIDYHOOKS_ENCRYPTION_KEYS"},
		{map[string]string{"DATABASE_URL": url, "TIDYHOOKS_ENCRYPTION_KEYS": "not-base64"}, nil, "TIDYHOOKS_ENCRYPTION_KEYS"},
		{map[string]string{"DATABASE_URL": url, "TIDYHOOKS_ENCRYPTION_KEYS": b64(newKey), "TIDYHOOKS_ENCRYPTION_KEY": b64(oldKey)}, nil, "both set"},
		{map[string]string{"DATABASE_URL": url, "TIDYHOOKS_ENCRYPTION_KEYS": b64(newKey) + "," + b64(newKey)}, nil, "twice"},
		{map[string]string{"DATABASE_URL": url, "TIDYHOOKS_ENCRYPTION_KEYS": b64(newKey)}, nil, "not configured"},
		{map[string]string{"DATABASE_URL": url, "TIDYHOOKS_ENCRYPTION_KEYS": b64(newKey) + "," + b64(oldKey)}, []string{"--batch", "0"}, "--batch"},
	} {
		if out, err := rekey(bad.env, bad.args...); err == nil || !strings.Contains(err.Error()+out, bad.want) {
			t.Errorf("rekey %v %v = %v %q, want an error naming %q", bad.env, bad.args, err, out, bad.want)
		}
	}
	out, err := rekey(map[string]string{"DATABASE_URL": url, "TIDYHOOKS_ENCRYPTION_KEYS": b64(newKey) + "," + b64(oldKey)}, "--batch", "1")
	if err != nil || !strings.Contains(out, "webhook signing secrets: 1 re-sealed") || !strings.Contains(out, "may now be removed") {
		t.Fatalf("rekey = %v\n%s", err, out)
	}
	only, err := store.Open(ctx, url, store.Options{EncryptionKey: newKey})
	if err != nil {
		t.Fatal(err)
	}
	defer only.Close()
	if err := only.CheckKeys(ctx); err != nil {
		t.Errorf("after the rekey, the new key alone: %v", err)
	}
}
