package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"

	"github.com/tidysupport/tidyhooks/internal/pgcluster"
)

// ownPostgres is --postgres's value for a server of the bench's own.
const ownPostgres = "own"

// ownPostgresOptions are its settings: pg_stat_statements preloaded and
// counting nested statements too, and durability as a deployment has it
// (pgcluster's default turns fsync off; a bench measuring PostgreSQL
// turns it back on).
const ownPostgresOptions = "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.max=10000 -c fsync=on"

// startOwnPostgres initdbs and starts a PostgreSQL server for the run,
// points f.postgres at it with statements counted, and returns what stops
// and removes it. Nothing but the bench runs on it, so its CPU and its
// statements are the stack's alone.
func startOwnPostgres(ctx context.Context, f *benchFlags, stderr io.Writer) (func(), error) {
	c, err := pgcluster.Init(func(*pgcluster.Cluster) (string, error) { return ownPostgresOptions, nil })
	if err != nil {
		return nil, fmt.Errorf("bench: --postgres own: %w", err)
	}
	stop := func() { _ = c.Remove() }
	if err := c.Start(); err != nil {
		stop()
		return nil, fmt.Errorf("bench: --postgres own: %w", err)
	}
	db, err := sql.Open("pgx", c.URL())
	if err == nil {
		_, err = db.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
		db.Close()
	}
	if err != nil {
		stop()
		return nil, fmt.Errorf("bench: --postgres own: pg_stat_statements: %w", err)
	}
	f.postgres, f.statements = c.URL(), true
	fmt.Fprintf(stderr, "bench: own PostgreSQL at 127.0.0.1:%d (%s)\n", c.Port, c.Dir)
	return stop, nil
}
