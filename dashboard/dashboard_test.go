package dashboard

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	pathpkg "path"
	"regexp"
	"strings"
	"testing"
)

func TestHandlerServesThePageWithItsPolicy(t *testing.T) {
	h := Handler(Options{})
	tests := []struct {
		path     string
		status   int
		contains string
	}{
		{"/", http.StatusOK, "<title>TidySupport Webhooks</title>"},
		{"/js/main.js", http.StatusOK, "startRouter"},
		{"/js/pages/webhook.js", http.StatusOK, "export async function webhookPage"},
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

func TestModulesAreServedAsJavaScript(t *testing.T) {
	w := httptest.NewRecorder()
	Handler(Options{}).ServeHTTP(w, httptest.NewRequest("GET", "/js/api.js", nil))
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("a module is served as %q; browsers run modules only as JavaScript", ct)
	}
}

// Every module the page imports is one the binary embeds: a misspelt
// import would break the whole page with nothing else failing.
func TestEveryImportResolves(t *testing.T) {
	importRE := regexp.MustCompile(`(?m)^import .* from '(\.[^']+)';$`)
	err := fs.WalkDir(static, "static/js", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := fs.ReadFile(static, path)
		if err != nil {
			return err
		}
		for _, m := range importRE.FindAllStringSubmatch(string(src), -1) {
			target := pathpkg.Join(pathpkg.Dir(path), m[1])
			if _, err := fs.Stat(static, target); err != nil {
				t.Errorf("%s imports %s, which is not embedded", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The API client's operations are the OpenAPI document's: each
// operationId with the same method and path, so that a change of the API
// that the page relies on fails here.
func TestAPIClientMatchesTheOpenAPIDocument(t *testing.T) {
	raw, err := os.ReadFile("../api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if op.OperationID != "" {
				documented[op.OperationID] = strings.ToUpper(method) + " " + path
			}
		}
	}
	src, err := fs.ReadFile(static, "static/js/api.js")
	if err != nil {
		t.Fatal(err)
	}
	opRE := regexp.MustCompile(`(?m)^  (\w+): \['(GET|POST|PATCH|DELETE)', '([^']+)'\],$`)
	found := opRE.FindAllStringSubmatch(string(src), -1)
	if len(found) < 10 {
		t.Fatalf("read %d operations from api.js; the pattern no longer matches its table", len(found))
	}
	for _, m := range found {
		want, ok := documented[m[1]]
		if !ok {
			t.Errorf("api.js calls %s, which openapi.json does not document", m[1])
		} else if got := m[2] + " " + m[3]; got != want {
			t.Errorf("api.js has %s as %s; openapi.json: %s", m[1], got, want)
		}
	}
	// Every call the pages make names an operation of the table.
	callRE := regexp.MustCompile(`call\('(\w+)'`)
	known := map[string]bool{}
	for _, m := range found {
		known[m[1]] = true
	}
	_ = fs.WalkDir(static, "static/js", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, _ := fs.ReadFile(static, path)
		for _, m := range callRE.FindAllStringSubmatch(string(src), -1) {
			if !known[m[1]] {
				t.Errorf("%s calls %s, which api.js does not define", path, m[1])
			}
		}
		return nil
	})
}

// No page keeps state in a module-level variable that another page could
// see: each page's state lives in its own visit.
func TestPagesHoldNoModuleState(t *testing.T) {
	entries, err := fs.ReadDir(static, "static/js/pages")
	if err != nil {
		t.Fatal(err)
	}
	mutable := regexp.MustCompile(`(?m)^(let|var) `)
	for _, e := range entries {
		src, _ := fs.ReadFile(static, "static/js/pages/"+e.Name())
		if m := mutable.Find(src); m != nil {
			t.Errorf("%s declares module-level state: %q", e.Name(), m)
		}
	}
}
