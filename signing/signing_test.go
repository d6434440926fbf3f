package signing_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tidysupport/tidyhooks/signing"
)

// Known-answer vectors. The first is the example of the Standard Webhooks
// specification; the others were computed independently with
// `printf '%s' "$id.$ts.$body" | openssl dgst -sha256 -mac HMAC -macopt hexkey:<key> -binary | base64`.
var vectors = []struct {
	name   string
	secret string
	id     string
	ts     int64
	body   string
	want   string
}{
	{
		name:   "specification example",
		secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		id:     "msg_p5jXN8AQM9LWM0D4loKWxJek",
		ts:     1614265330,
		body:   `{"test": 2432232314}`,
		want:   "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
	},
	{
		name:   "envelope of the product specification",
		secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		id:     "evt_2a6b1c",
		ts:     1705314600,
		body:   `{"event":"conversation.created","version":1,"timestamp":"2024-01-15T10:30:00.000Z","payload":{"conversation":{"id":"cnv_abc123","workspaceId":"wrk_xyz789","contactId":"cnt_def456"}}}`,
		want:   "v1,LA4kQK2kgt0sqd7Q+p5+sPV2bxEQmxUyivWT/qgAZ6Q=",
	},
}

func TestSignatureKnownAnswers(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			got, err := signing.Signature(v.secret, v.id, time.Unix(v.ts, 0), []byte(v.body))
			if err != nil {
				t.Fatal(err)
			}
			if got != v.want {
				t.Errorf("Signature = %q, want %q", got, v.want)
			}
		})
	}
}

func TestHeaderAcceptedByStandardWebhooksLibrary(t *testing.T) {
	oldSecret, _ := signing.NewSecret()
	newSecret, _ := signing.NewSecret()
	body := []byte(`{"event":"conversation.created","version":1,"timestamp":"2024-01-15T10:30:00.000Z","payload":{"a":"<b>"}}`)
	ts := time.Now()
	header, err := signing.Header([]string{newSecret, oldSecret}, "evt_123", ts, body)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(header, "v1,"); got != 2 {
		t.Fatalf("header has %d signatures, want 2: %q", got, header)
	}
	h := http.Header{}
	h.Set("webhook-id", "evt_123")
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", header)
	for name, secret := range map[string]string{"new": newSecret, "old": oldSecret} {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("library rejects signature for %s secret: %v", name, err)
		}
	}
	stranger, _ := signing.NewSecret()
	wh, _ := standardwebhooks.NewWebhook(stranger)
	if err := wh.Verify(body, h); err == nil {
		t.Error("library accepts a signature made with other secrets")
	}
	tampered := append([]byte{}, body...)
	tampered[len(tampered)-3] = 'c'
	wh, _ = standardwebhooks.NewWebhook(newSecret)
	if err := wh.Verify(tampered, h); err == nil {
		t.Error("library accepts a tampered body")
	}
}

func TestSecrets(t *testing.T) {
	s, err := signing.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if err := signing.ValidateSecret(s); err != nil {
		t.Errorf("new secret %q invalid: %v", s, err)
	}
	for _, bad := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!", "whsec_c2hvcnQ=", "whsec_" + strings.Repeat("QUFB", 30)} {
		if err := signing.ValidateSecret(bad); err == nil {
			t.Errorf("ValidateSecret(%q) = nil, want error", bad)
		}
	}
	if _, err := signing.Header(nil, "evt_1", time.Now(), nil); err == nil {
		t.Error("Header with no secrets = nil error")
	}
}
