package models_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/tidysupport/tidyhooks/models"
)

// Origins and the logo's URL go into the portal's Content-Security-
// Policy: a ; or a space in one spliced a directive of its own into it.
// They are refused; well-formed origins, wildcards and ports are kept.
func TestPortalOriginsCannotSpliceThePolicy(t *testing.T) {
	for _, bad := range []string{"https://a.example.com;script-src", "https://a.example.com;", "https://a%3Bb.example.com",
		"https://a.example.com:443;x", "https://[::1;x]", "https://a..example.com", "https://-a.example.com", "https://a.example.com:0"} {
		if got, err := models.ParseOrigins(bad); err == nil {
			t.Errorf("ParseOrigins(%q) = %v, want refused", bad, got)
		}
	}
	got, err := models.ParseOrigins("https://APP.example.com:443, https://*.tidysupport.test http://127.0.0.1:8080 https://[::1]:8443 https://[::1]")
	if err != nil || !slices.Equal(got, []string{"https://app.example.com", "https://*.tidysupport.test", "http://127.0.0.1:8080", "https://[::1]:8443", "https://[::1]"}) {
		t.Errorf("ParseOrigins = %v, %v", got, err)
	}
	for _, bad := range []string{`{"logoUrl": "https://cdn.example.com;script-src 'unsafe-inline'/logo.svg"}`, `{"logoUrl": "https://cdn example.com/l.svg"}`} {
		if theme, err := models.ParsePortalTheme(bad); err == nil {
			t.Errorf("ParsePortalTheme(%s) = %+v (origin %q), want refused", bad, theme, theme.LogoOrigin())
		}
	}
	if theme, err := models.ParsePortalTheme(`{"logoUrl": "https://cdn.example.com/logo.svg"}`); err != nil || theme.LogoOrigin() != "https://cdn.example.com" {
		t.Errorf("a good logo: %+v, %v", theme, err)
	}
}

// A return URL naming its scheme's default port is on the origin without
// it (it was refused).
func TestReturnURLWithTheDefaultPort(t *testing.T) {
	allowed := []string{"https://app.example.com"}
	for _, ok := range []string{"https://app.example.com/settings", "https://app.example.com:443/settings", "https://APP.example.com/x"} {
		if err := models.ValidateReturnURL(ok, allowed); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"https://app.example.com:8443/x", "http://app.example.com/x", "https://app.example.com;x/y", "https://evil.test/"} {
		if err := models.ValidateReturnURL(bad, allowed); err == nil || !strings.Contains(err.Error(), "returnUrl") {
			t.Errorf("%s: %v, want refused", bad, err)
		}
	}
}
