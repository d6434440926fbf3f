package temporalserver_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/tidysupport/tidyhooks/internal/testenv"
	"github.com/tidysupport/tidyhooks/temporalserver"
)

func TestServerPersistsAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := temporalserver.Config{
		DataDir:   dir,
		Namespace: "default",
		SearchAttributes: map[string]enumspb.IndexedValueType{"TidyWorkspace": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			"TidyWebhooks": enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST},
	}
	workspace := temporal.NewSearchAttributeKeyKeyword("TidyWorkspace")
	webhooks := temporal.NewSearchAttributeKeyKeywordList("TidyWebhooks")
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
		// Visibility answers the queries the product makes on the trimmed
		// schema, also for a workflow started before the restart.
		if run == 1 {
			_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "wf_vis", TaskQueue: "none",
				TypedSearchAttributes: temporal.NewSearchAttributes(workspace.ValueSet("wrk_v"), webhooks.ValueSet([]string{"wh_1", "wh_2"}))}, "NoSuchWorkflow")
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []string{"TidyWorkspace = 'wrk_v'", "TidyWebhooks = 'wh_2'", "TidyWorkspace = 'wrk_v' AND TidyWebhooks IN ('wh_1') AND ExecutionStatus = 'Running'"} {
			deadline := time.Now().Add(20 * time.Second)
			for {
				resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: q})
				if err == nil && len(resp.Executions) == 1 && resp.Executions[0].Execution.WorkflowId == "wf_vis" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("run %d: %s found %v, %v", run, q, resp, err)
				}
				time.Sleep(100 * time.Millisecond) // visibility is written after the start returns
			}
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
