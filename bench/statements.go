package bench

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
)

// What PostgreSQL did for a phase, by statement, from pg_stat_statements
// on a server that preloads it (tidyhooks-bench --postgres own starts one):
// reset when the phase starts, read when it ends, and grouped by the
// database and the tables a statement touches.

// StatementGroup is what one group of statements cost in a phase: calls
// and execution time (pg_stat_statements' total_exec_time, which is time
// inside the executor, not CPU), in all and per accepted event.
type StatementGroup struct {
	Calls         int64   `json:"calls"`
	ExecMS        float64 `json:"execMs"`
	CallsPerEvent float64 `json:"callsPerEvent"`
	MSPerEvent    float64 `json:"msPerEvent"`
}

// Statements reads pg_stat_statements on a server, for the databases a
// phase's stack uses.
type Statements struct {
	DB *sql.DB // any database of the server where the extension is created
	// Databases names the stack's databases by role: "app", "temporal"
	// (Temporal's persistence) and "visibility" (Temporal's visibility).
	Databases map[string]string
}

// Statement groups, in the report's order.
const (
	GroupTemporalPersistence = "temporal persistence"
	GroupTemporalVisibility  = "temporal visibility"
	GroupDeliveryLog         = "delivery log"
	GroupEvents              = "events"
	GroupMatching            = "webhooks and matching"
	GroupAppOther            = "app, other"
)

// StatementGroups lists the groups in the report's order.
var StatementGroups = []string{GroupTemporalPersistence, GroupTemporalVisibility, GroupDeliveryLog, GroupEvents, GroupMatching, GroupAppOther}

// The app's statements by the first table they name: the delivery log
// (deliveries, their attempts and the stats rolled up from them), the
// events, and what matching and sending read (webhooks, subscriptions,
// secrets, throttle and leases, OAuth tokens).
var (
	deliveryTables = regexp.MustCompile(`(?i)\bdelivery_attempts\b|\bdeliveries\b|\bdelivery_stats_(days|hours)\b`)
	eventTables    = regexp.MustCompile(`(?i)\bevents\b`)
	matchingTables = regexp.MustCompile(`(?i)\bwebhook(s|_subscriptions|_secrets|_throttle|_leases)\b|\boauth_tokens\b`)
)

// group is the group of a statement run in the database of role.
func group(role, query string) string {
	switch role {
	case "temporal":
		return GroupTemporalPersistence
	case "visibility":
		return GroupTemporalVisibility
	}
	switch {
	case deliveryTables.MatchString(query):
		return GroupDeliveryLog
	case eventTables.MatchString(query):
		return GroupEvents
	case matchingTables.MatchString(query):
		return GroupMatching
	}
	return GroupAppOther
}

// Reset forgets every statement counted so far.
func (s *Statements) Reset(ctx context.Context) error {
	if _, err := s.DB.ExecContext(ctx, `SELECT pg_stat_statements_reset()`); err != nil {
		return fmt.Errorf("bench: reset pg_stat_statements: %w", err)
	}
	return nil
}

// Read groups what was counted since Reset, per event over events.
func (s *Statements) Read(ctx context.Context, events int) (map[string]StatementGroup, error) {
	roles := map[string]string{}
	for role, name := range s.Databases {
		roles[name] = role
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT d.datname, s.query, s.calls, s.total_exec_time
		FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid`)
	if err != nil {
		return nil, fmt.Errorf("bench: read pg_stat_statements: %w", err)
	}
	defer rows.Close()
	out := map[string]StatementGroup{}
	for rows.Next() {
		var (
			db, query string
			calls     int64
			execMS    float64
		)
		if err := rows.Scan(&db, &query, &calls, &execMS); err != nil {
			return nil, err
		}
		role, ok := roles[db]
		if !ok {
			continue // the bench's own reads, or another stack's
		}
		k := group(role, query)
		g := out[k]
		g.Calls += calls
		g.ExecMS += execMS
		out[k] = g
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for k, g := range out {
		if events > 0 {
			g.CallsPerEvent = float64(g.Calls) / float64(events)
			g.MSPerEvent = g.ExecMS / float64(events)
		}
		out[k] = g
	}
	return out, nil
}
