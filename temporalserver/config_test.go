package temporalserver

import (
	"database/sql"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

// The embedded server's settings as the server itself reads them: no
// version check (no call of its own to the internet), and fair dispatch
// between fairness keys on every task queue.
func TestDynamicConfig(t *testing.T) {
	c := dynamicconfig.NewCollection(dynamicConfig(), log.NewNoopLogger())
	if dynamicconfig.EnableServerVersionCheck.Get(c)() {
		t.Error("the server version check is on; an embedded server must not call out")
	}
	fair := dynamicconfig.MatchingEnableFairness.Get(c)("default", "tidyhooks-deliveries", enumspb.TASK_QUEUE_TYPE_ACTIVITY)
	if !fair.Value(nil, time.Now()) {
		t.Error("matching.enableFairness is off")
	}
}

// The visibility database keeps only the indexes queries use: the schema
// makes 58, each updated at every workflow's start and close. Trimming is
// idempotent, and what is kept is what the list of unused ones leaves.
func TestVisibilityIndexesTrimmed(t *testing.T) {
	vis := sqliteStore(t.TempDir(), "temporal-visibility.db")
	if err := sqliteschema.SetupSchema(vis); err != nil {
		t.Fatal(err)
	}
	indexes := func() []string {
		db, err := sql.Open("sqlite", vis.DatabaseName)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'executions_visibility' AND sql IS NOT NULL ORDER BY name")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var names []string
		for rows.Next() {
			var n string
			_ = rows.Scan(&n)
			names = append(names, n)
		}
		return names
	}
	before := indexes()
	for range 2 {
		if err := trimVisibilityIndexes(vis.DatabaseName); err != nil {
			t.Fatal(err)
		}
	}
	after := indexes()
	if len(before) != 58 || len(after) != len(before)-len(unusedVisibilityIndexes) {
		t.Fatalf("%d indexes before, %d after; want 58 and %d", len(before), len(after), 58-len(unusedVisibilityIndexes))
	}
	for _, want := range []string{"default_idx", "by_workflow_id", "by_workflow_type", "by_status", "by_parent_workflow_id", "by_keyword_01", "by_keyword_10"} {
		if !slices.Contains(after, want) {
			t.Errorf("%s was dropped", want)
		}
	}
}
