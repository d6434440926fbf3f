package models_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/internal/testcerts"
	"github.com/tidysupport/tidyhooks/models"
)

func TestNormalizeHeaders(t *testing.T) {
	many := map[string]string{}
	for i := range models.MaxCustomHeaders + 1 {
		many["X-H"+strings.Repeat("a", i)] = "v"
	}
	tests := []struct {
		name      string
		in        map[string]string
		want      map[string]string
		wantField string // of the error; "" when valid
	}{
		{"none", nil, nil, ""},
		{"canonical names", map[string]string{"x-api-key": "k1", "X-TENANT": "acme corp"}, map[string]string{"X-Api-Key": "k1", "X-Tenant": "acme corp"}, ""},
		{"token characters", map[string]string{"X_Odd.Name!~": "v"}, map[string]string{"X_odd.name!~": "v"}, ""},
		{"too many", many, nil, "headers"},
		{"twice in two cases", map[string]string{"X-A": "1", "x-a": "2"}, nil, "headers."},
		{"space in name", map[string]string{"X A": "v"}, nil, "headers.X A"},
		{"colon in name", map[string]string{"X:A": "v"}, nil, "headers.X:A"},
		{"empty name", map[string]string{"": "v"}, nil, "headers"},
		{"long name", map[string]string{strings.Repeat("x", models.MaxHeaderNameLength+1): "v"}, nil, "headers"},
		{"empty value", map[string]string{"X-A": " "}, nil, "headers.X-A"},
		{"newline in value", map[string]string{"X-A": "a\r\nInjected: yes"}, nil, "headers.X-A"},
		{"NUL in value", map[string]string{"X-A": "a\x00"}, nil, "headers.X-A"},
		{"long value", map[string]string{"X-A": strings.Repeat("v", models.MaxHeaderValueLength+1)}, nil, "headers.X-A"},
		{"signature", map[string]string{"webhook-signature": "v1,forged"}, nil, "headers.webhook-signature"},
		{"any webhook- header", map[string]string{"Webhook-Custom": "v"}, nil, "headers.Webhook-Custom"},
		{"ours", map[string]string{"x-tidysupport-event": "x"}, nil, "headers.x-tidysupport-event"},
		{"content type", map[string]string{"content-type": "text/plain"}, nil, "headers.content-type"},
		{"host", map[string]string{"Host": "evil.example"}, nil, "headers.Host"},
		{"authorization without auth", map[string]string{"authorization": "Token x"}, map[string]string{"Authorization": "Token x"}, ""},
		{"proxy authorization", map[string]string{"Proxy-Authorization": "x"}, nil, "headers.Proxy-Authorization"},
		{"user agent", map[string]string{"User-Agent": "x"}, nil, "headers.User-Agent"},
		{"transfer encoding", map[string]string{"Transfer-Encoding": "chunked"}, nil, "headers.Transfer-Encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := models.NormalizeHeaders(tt.in)
			if tt.wantField == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
				for k, v := range tt.want {
					if got[k] != v {
						t.Errorf("got %v, want %v", got, tt.want)
					}
				}
				return
			}
			var v *models.ValidationError
			if !errors.As(err, &v) || !strings.HasPrefix(v.Field, tt.wantField) {
				t.Fatalf("err = %v, want a validation error of %s", err, tt.wantField)
			}
		})
	}
}

// Authorization is the customer's to set, unless auth sets it.
func TestAuthorizationHeaderBesideAuth(t *testing.T) {
	headers := map[string]string{"Authorization": "Token x"}
	if err := models.CheckAuthorizationHeader(headers, nil); err != nil {
		t.Errorf("without auth: %v", err)
	}
	err := models.CheckAuthorizationHeader(headers, &models.EndpointAuth{Type: "bearer", Token: "t"})
	var v *models.ValidationError
	if !errors.As(err, &v) || v.Field != "headers.Authorization" {
		t.Errorf("beside auth: %v", err)
	}
	_, err = models.NewWebhook{URL: "https://example.com/", Events: []string{"*"}, Headers: headers,
		Auth: &models.EndpointAuth{Type: "basic", Username: "u"}}.Validate("wrk_a", models.URLPolicy{})
	if !errors.As(err, &v) || v.Field != "headers.Authorization" {
		t.Errorf("creating with both: %v", err)
	}
	w := models.Webhook{URL: "https://example.com/", Events: []string{"*"}, Headers: headers}
	if err := (models.WebhookPatch{Auth: &models.EndpointAuth{Type: "bearer", Token: "t"}}).Apply(&w, models.URLPolicy{}); err == nil || w.Auth != nil {
		t.Errorf("adding auth beside an Authorization header: %v, %+v", err, w.Auth)
	}
}

func TestEndpointAuthValidate(t *testing.T) {
	ca := testcerts.NewCA(t, "client CA")
	now := time.Now()
	good := ca.Client(t, "tidyhooks", now.Add(-time.Hour), now.Add(time.Hour))
	expired := ca.Client(t, "tidyhooks", now.Add(-2*time.Hour), now.Add(-time.Hour))
	other := ca.Client(t, "other", now.Add(-time.Hour), now.Add(time.Hour))
	http := models.URLPolicy{}
	tests := []struct {
		name      string
		auth      models.EndpointAuth
		wantField string
	}{
		{"basic", models.EndpointAuth{Type: "basic", Username: "u", Password: "p"}, ""},
		{"basic without password", models.EndpointAuth{Type: "basic", Username: "u"}, ""},
		{"basic without username", models.EndpointAuth{Type: "basic", Password: "p"}, "auth.username"},
		{"basic username with colon", models.EndpointAuth{Type: "basic", Username: "a:b", Password: "p"}, "auth.username"},
		{"basic with a token", models.EndpointAuth{Type: "basic", Username: "u", Token: "t"}, "auth.token"},
		{"bearer", models.EndpointAuth{Type: "bearer", Token: "t0k3n"}, ""},
		{"bearer without token", models.EndpointAuth{Type: "bearer"}, "auth.token"},
		{"bearer with newline", models.EndpointAuth{Type: "bearer", Token: "a\nb"}, "auth.token"},
		{"bearer too long", models.EndpointAuth{Type: "bearer", Token: strings.Repeat("t", models.MaxCredentialLength+1)}, "auth.token"},
		{"no type", models.EndpointAuth{Token: "t"}, "auth.type"},
		{"unknown type", models.EndpointAuth{Type: "digest"}, "auth.type"},
		{"oauth2", models.EndpointAuth{Type: "oauth2", TokenURL: "https://auth.example.com/token", ClientID: "id", ClientSecret: "s", Scopes: []string{"webhooks:write"}, Audience: "https://api.example.com"}, ""},
		{"oauth2 over http", models.EndpointAuth{Type: "oauth2", TokenURL: "http://auth.example.com/token", ClientID: "id", ClientSecret: "s"}, "auth.tokenUrl"},
		{"oauth2 without token URL", models.EndpointAuth{Type: "oauth2", ClientID: "id", ClientSecret: "s"}, "auth.tokenUrl"},
		{"oauth2 token URL with credentials", models.EndpointAuth{Type: "oauth2", TokenURL: "https://u:p@auth.example.com/token", ClientID: "id", ClientSecret: "s"}, "auth.tokenUrl"},
		{"oauth2 without client id", models.EndpointAuth{Type: "oauth2", TokenURL: "https://auth.example.com/token", ClientSecret: "s"}, "auth.clientId"},
		{"oauth2 without secret", models.EndpointAuth{Type: "oauth2", TokenURL: "https://auth.example.com/token", ClientID: "id"}, "auth.clientSecret"},
		{"oauth2 bad scope", models.EndpointAuth{Type: "oauth2", TokenURL: "https://auth.example.com/token", ClientID: "id", ClientSecret: "s", Scopes: []string{"a b"}}, "auth.scopes"},
		{"mtls", models.EndpointAuth{Type: "mtls", Certificate: string(good.CertPEM), PrivateKey: string(good.KeyPEM)}, ""},
		{"mtls expired", models.EndpointAuth{Type: "mtls", Certificate: string(expired.CertPEM), PrivateKey: string(expired.KeyPEM)}, "auth.certificatePem"},
		{"mtls key of another certificate", models.EndpointAuth{Type: "mtls", Certificate: string(good.CertPEM), PrivateKey: string(other.KeyPEM)}, "auth.privateKeyPem"},
		{"mtls without key", models.EndpointAuth{Type: "mtls", Certificate: string(good.CertPEM)}, "auth.privateKeyPem"},
		{"mtls not PEM", models.EndpointAuth{Type: "mtls", Certificate: "hello", PrivateKey: string(good.KeyPEM)}, "auth.certificatePem"},
		{"mtls key given as certificate", models.EndpointAuth{Type: "mtls", Certificate: string(good.KeyPEM), PrivateKey: string(good.KeyPEM)}, "auth.certificatePem"},
		{"mtls with a password", models.EndpointAuth{Type: "mtls", Certificate: string(good.CertPEM), PrivateKey: string(good.KeyPEM), Password: "p"}, "auth.password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.auth.Validate(http)
			if tt.wantField == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var v *models.ValidationError
			if !errors.As(err, &v) || v.Field != tt.wantField {
				t.Fatalf("err = %v, want a validation error of %s", err, tt.wantField)
			}
		})
	}
}

func TestMaskedAuthHidesSecrets(t *testing.T) {
	a := models.EndpointAuth{Type: "oauth2", TokenURL: "https://auth.example.com/token", ClientID: "client-1",
		ClientSecret: "s3cr3t-s3cr3t-s3cr3t-WXYZ", Password: "short", Token: "tok", PrivateKey: "-----BEGIN PRIVATE KEY-----"}
	m := a.Masked()
	if m.ClientSecret != "••••WXYZ" || m.Password != "••••" || m.Token != "••••" || m.PrivateKey != "" {
		t.Errorf("masked = %+v", m)
	}
	if m.ClientID != a.ClientID || m.TokenURL != a.TokenURL {
		t.Errorf("masked hides what is not secret: %+v", m)
	}
	if models.Mask("") != "" || models.Mask("ééééééééééééééééé") != "••••éééé" {
		t.Errorf("Mask of empty or multibyte values: %q %q", models.Mask(""), models.Mask("ééééééééééééééééé"))
	}
}

// Headers merge as JSON merge patch does; auth is replaced or removed; a
// bad patch changes nothing.
func TestWebhookPatchEndpoint(t *testing.T) {
	str := func(s string) *string { return &s }
	w := models.Webhook{URL: "https://example.com/", Events: []string{"*"}, Status: models.WebhookActive,
		Headers: map[string]string{"X-A": "1", "X-B": "2"}, Auth: &models.EndpointAuth{Type: "bearer", Token: "t"}}
	p := models.WebhookPatch{Headers: map[string]*string{"x-a": nil, "X-C": str("3"), "x-b": str("two")}}
	if err := p.Apply(&w, models.URLPolicy{}); err != nil {
		t.Fatal(err)
	}
	if len(w.Headers) != 2 || w.Headers["X-B"] != "two" || w.Headers["X-C"] != "3" || w.Auth == nil {
		t.Errorf("after the merge: %+v", w)
	}
	before := w
	bad := models.WebhookPatch{Headers: map[string]*string{"X-D": str("4"), "Host": str("h")}, ClearAuth: true}
	if err := bad.Apply(&w, models.URLPolicy{}); err == nil {
		t.Fatal("a reserved header was accepted")
	}
	if len(w.Headers) != 2 || w.Auth != before.Auth {
		t.Errorf("a refused patch changed the webhook: %+v", w)
	}
	if err := (models.WebhookPatch{Auth: &models.EndpointAuth{Type: "basic", Username: "u", Password: "p"}}).Apply(&w, models.URLPolicy{}); err != nil || w.Auth.Type != "basic" {
		t.Errorf("replace auth: %v, %+v", err, w.Auth)
	}
	if err := (models.WebhookPatch{ClearAuth: true, ClearHeaders: true}).Apply(&w, models.URLPolicy{}); err != nil || w.Auth != nil || w.Headers != nil {
		t.Errorf("clear: %v, %+v", err, w)
	}
}

// Moving the URL to another origin does not carry the stored auth and
// header values there (a PATCH of the URL alone sent them, in clear, to
// whatever the new URL named): the patch is refused, naming them, unless
// it gives or removes them. Within one origin the URL moves freely.
func TestURLMoveDoesNotCarryCredentials(t *testing.T) {
	str := func(s string) *string { return &s }
	stored := func() models.Webhook {
		return models.Webhook{URL: "https://hooks.example.com/a", Events: []string{"*"}, Status: models.WebhookActive,
			Headers: map[string]string{"X-Api-Key": "k", "X-Tenant": "t"}, Auth: &models.EndpointAuth{Type: "basic", Username: "u", Password: "p"}}
	}
	for _, tt := range []struct {
		name  string
		patch models.WebhookPatch
		want  string // "" when accepted
	}{
		{"same origin", models.WebhookPatch{URL: str("https://HOOKS.example.com:443/b")}, ""},
		{"another host", models.WebhookPatch{URL: str("https://collector.test/")}, "auth and headers X-Api-Key, X-Tenant"},
		{"another scheme", models.WebhookPatch{URL: str("http://hooks.example.com/a")}, "auth and headers"},
		{"another port", models.WebhookPatch{URL: str("https://hooks.example.com:8443/a")}, "auth and headers"},
		{"auth given, headers kept", models.WebhookPatch{URL: str("https://collector.test/"), Auth: &models.EndpointAuth{Type: "bearer", Token: "new"}}, "headers X-Api-Key, X-Tenant"},
		{"one header left", models.WebhookPatch{URL: str("https://collector.test/"), ClearAuth: true, Headers: map[string]*string{"x-api-key": nil}}, "headers X-Tenant"},
		{"everything given or removed", models.WebhookPatch{URL: str("https://collector.test/"), ClearAuth: true,
			Headers: map[string]*string{"x-api-key": str("new"), "X-Tenant": nil}}, ""},
		{"headers cleared", models.WebhookPatch{URL: str("https://collector.test/"), ClearAuth: true, ClearHeaders: true}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := stored()
			err := tt.patch.Apply(&w, models.URLPolicy{AllowHTTP: true})
			if tt.want == "" {
				if err != nil || w.URL != *tt.patch.URL {
					t.Fatalf("= %v, URL %s: want it moved", err, w.URL)
				}
				return
			}
			var invalid *models.ValidationError
			if !errors.As(err, &invalid) || invalid.Field != "url" || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("= %v, want a url refusal naming %q", err, tt.want)
			}
			if w.URL != stored().URL || w.Auth == nil || len(w.Headers) != 2 {
				t.Errorf("a refused move changed the webhook: %+v", w)
			}
		})
	}
	if o := models.Origin("https://[::1]:443/x"); o != "https://[::1]" {
		t.Errorf("Origin of an IPv6 URL = %q", o)
	}
}

// A header name that is a reserved one once _ reads as - (as PHP, WSGI
// and Rack read it) is refused: Webhook_Signature was accepted and sent
// beside the real signature, and such receivers merged the two.
func TestReservedHeaderNamesWithUnderscores(t *testing.T) {
	for _, name := range []string{"Webhook_Signature", "webhook_id", "X_TidySupport_Event", "x_tidysupport-attempt", "Content_Type", "Host", "User_Agent"} {
		if _, err := models.NormalizeHeaders(map[string]string{name: "v"}); err == nil || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("%s: %v, want it reserved", name, err)
		}
	}
	if _, err := models.NormalizeHeaders(map[string]string{"X-Api-Key": "a", "X_Api_Key": "b"}); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("X-Api-Key beside X_Api_Key: %v, want refused", err)
	}
	if h, err := models.NormalizeHeaders(map[string]string{"X_Api_Key": "a", "Api_Version": "2"}); err != nil || h["X_api_key"] != "a" {
		t.Errorf("unreserved names with _: %v, %v", h, err)
	}
}
