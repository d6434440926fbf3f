package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// The OpenAPI document lists exactly the routes registered in routes.go.
func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	reg := prometheus.NewRegistry()
	engine := New(nil, nil, Config{}, slog.New(slog.DiscardHandler), reg).Handler(reg).(*gin.Engine)
	var registered []string
	for _, r := range engine.Routes() {
		if r.Path == "/" || strings.HasPrefix(r.Path, "/dashboard/") {
			continue // the dashboard's pages, not API
		}
		path := r.Path
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		registered = append(registered, r.Method+" "+path)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(registered)
	sort.Strings(documented)
	if strings.Join(registered, "\n") != strings.Join(documented, "\n") {
		t.Errorf("routes and OpenAPI document differ\nregistered:\n%s\ndocumented:\n%s", strings.Join(registered, "\n"), strings.Join(documented, "\n"))
	}
	w := httptest.NewRecorder()
	engine.ServeHTTP(w, httptest.NewRequest("GET", "/v1/openapi.json", nil))
	if w.Code != http.StatusOK || !json.Valid(w.Body.Bytes()) {
		t.Errorf("GET /v1/openapi.json = %d", w.Code)
	}
}

func TestRateLimiter(t *testing.T) {
	l := newLimiter(2) // 2/s, bursts of 4
	now := time.Now()
	for i := range 4 {
		if wait := l.wait("key_a", now); wait != 0 {
			t.Fatalf("request %d within the burst told to wait %ds", i+1, wait)
		}
	}
	if wait := l.wait("key_a", now); wait < 1 {
		t.Errorf("request over the burst: wait %d, want at least 1 second", wait)
	}
	if wait := l.wait("key_b", now); wait != 0 {
		t.Errorf("another key is limited too: wait %d", wait)
	}
	if wait := l.wait("key_a", now.Add(time.Second)); wait != 0 {
		t.Errorf("after a second: wait %d, want 0", wait)
	}
	if wait := newLimiter(-1).wait("key_a", now); wait != 0 {
		t.Error("a disabled limiter limits")
	}
}
