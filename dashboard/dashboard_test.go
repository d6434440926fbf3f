package dashboard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerServesThePageWithItsPolicy(t *testing.T) {
	h := Handler()
	tests := []struct {
		path     string
		status   int
		contains string
	}{
		{"/", http.StatusOK, "<title>TidySupport Webhooks</title>"},
		{"/app.js", http.StatusOK, "function signIn"},
		{"/app.css", http.StatusOK, ":root"},
		{"/missing.js", http.StatusNotFound, ""},
		{"/../dashboard.go", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", tt.path, nil))
			if w.Code != tt.status {
				t.Fatalf("GET %s = %d, want %d", tt.path, w.Code, tt.status)
			}
			if !strings.Contains(w.Body.String(), tt.contains) {
				t.Errorf("GET %s lacks %q", tt.path, tt.contains)
			}
			if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
		})
	}
}
