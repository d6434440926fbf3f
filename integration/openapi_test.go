package integration_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/tidysupport/tidyhooks/api"
)

// The OpenAPI document is held to the API's real answers: every answer an
// integration test gets through stack.do is validated against it (the
// status is documented for the operation, the body matches its schema),
// and after a full run every documented operation has been answered at
// least once (checkOpenAPICoverage).
var openAPI = sync.OnceValues(func() (*openAPIDoc, error) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the document is not valid OpenAPI: %w", err)
	}
	doc.Servers = openapi3.Servers{{URL: "/"}} // match paths on any test server
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	errSchema := doc.Components.Schemas["Error"]
	if errSchema == nil || errSchema.Value == nil {
		return nil, errors.New("openapi.json has no Error schema")
	}
	return &openAPIDoc{doc: doc, router: router, errorSchema: errSchema.Value}, nil
})

type openAPIDoc struct {
	doc         *openapi3.T
	router      routers.Router
	errorSchema *openapi3.Schema
}

var (
	answeredMu sync.Mutex
	answered   = map[string]bool{} // "METHOD /path/{param}" seen validated
)

// validateAnswer checks one answer against the document.
func validateAnswer(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	oa, err := openAPI()
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	r := req.Clone(context.Background())
	r.URL = &url.URL{Path: req.URL.Path, RawQuery: req.URL.RawQuery}
	r.Host = ""
	route, params, err := oa.router.FindRoute(r)
	if err != nil {
		// A path or method the API does not have: answered 404 or 405
		// in the documented error shape.
		var value any
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: not in openapi.json (%v), yet answered %d", req.Method, req.URL.Path, err, status)
		} else if err := json.Unmarshal(body, &value); err != nil {
			t.Errorf("%s %s answered %d without a JSON body: %s", req.Method, req.URL.Path, status, truncate(body))
		} else if err := oa.errorSchema.VisitJSON(value); err != nil {
			t.Errorf("%s %s answered %d outside the Error schema: %v\nbody: %s", req.Method, req.URL.Path, status, err, truncate(body))
		}
		return
	}
	answeredMu.Lock()
	answered[route.Method+" "+route.Path] = true
	answeredMu.Unlock()
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s answered %d, which openapi.json does not describe: %v\nbody: %s", req.Method, req.URL.Path, status, err, truncate(body))
	}
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// checkOpenAPICoverage lists the documented operations no test answered.
func checkOpenAPICoverage() error {
	oa, err := openAPI()
	if err != nil {
		return err
	}
	answeredMu.Lock()
	defer answeredMu.Unlock()
	var missing []string
	for path, item := range oa.doc.Paths.Map() {
		for method := range item.Operations() {
			if !answered[method+" "+path] {
				missing = append(missing, method+" "+path)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		return fmt.Errorf("documented operations no integration test answered:\n  %s", strings.Join(missing, "\n  "))
	}
	return nil
}

// The operations no other test calls through stack.do: the event
// catalogue, the document itself and the metrics (text, not JSON).
func TestOpenAPIDescribesTheOperationalRoutes(t *testing.T) {
	s := newStack(t, stackOptions{})
	if code, out := s.do("GET", "/v1/event-types", s.keyA, ""); code != http.StatusOK || len(out) == 0 {
		t.Errorf("event types = %d %v", code, out)
	}
	if code, out := s.do("GET", "/v1/openapi.json", "", ""); code != http.StatusOK || out["openapi"] == nil {
		t.Errorf("openapi.json = %d", code)
	}
	req, err := http.NewRequest("GET", s.api.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "tidyhooks_") {
		t.Errorf("metrics = %d %s", resp.StatusCode, truncate(body))
	}
	validateAnswer(t, req, resp.StatusCode, resp.Header, body)
}
