package temporalserver_test

import (
	"context"
	"net/http"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/temporalserver"
)

func TestServerPersistsAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := temporalserver.Config{
		DataDir:          dir,
		Namespace:        "default",
		SearchAttributes: map[string]enumspb.IndexedValueType{"TidyWorkspace": enumspb.INDEXED_VALUE_TYPE_KEYWORD},
	}
	for run := 1; run <= 2; run++ {
		srv, err := temporalserver.Start(ctx, cfg)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		c, err := client.Dial(client.Options{HostPort: srv.HostPort(), Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.CustomAttributes["TidyWorkspace"]; got != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
			t.Errorf("run %d: TidyWorkspace search attribute = %v, want KEYWORD", run, got)
		}
		uiResp, err := http.Get(srv.UIURL() + "/")
		if err != nil {
			t.Fatalf("run %d: UI: %v", run, err)
		}
		uiResp.Body.Close()
		if uiResp.StatusCode != http.StatusOK {
			t.Errorf("run %d: UI answered %d", run, uiResp.StatusCode)
		}
		c.Close()
		if err := srv.Stop(); err != nil {
			t.Errorf("run %d: stop: %v", run, err)
		}
	}
}

// The embedded server can persist to PostgreSQL with several history
// shards, for a one-box deployment that outgrows SQLite.
func TestServerOnPostgres(t *testing.T) {
	ctx := context.Background()
	cfg := temporalserver.Config{
		PostgresURL:      testenv.PostgresURL(t),
		HistoryShards:    4,
		UIPort:           -1,
		SearchAttributes: map[string]enumspb.IndexedValueType{"TidyWorkspace": enumspb.INDEXED_VALUE_TYPE_KEYWORD},
	}
	for run := 1; run <= 2; run++ { // the second start finds the schema in place
		srv, err := temporalserver.Start(ctx, cfg)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		c, err := client.Dial(client.Options{HostPort: srv.HostPort(), Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.CustomAttributes["TidyWorkspace"]; got != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
			t.Errorf("run %d: TidyWorkspace = %v, want KEYWORD", run, got)
		}
		c.Close()
		if err := srv.Stop(); err != nil {
			t.Errorf("run %d: stop: %v", run, err)
		}
	}
}
