package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tidysupport/tidyhooks/store"
)

const migrateHelp = `usage: tidyhooks migrate [--status]

Applies the database migrations DATABASE_URL lacks, in order, and exits:
a deployment step run before the api and worker processes of a new
version start (with TIDYHOOKS_MIGRATE_ON_START=false they refuse a schema
that is behind). Running it again changes nothing. PostgreSQL serializes
concurrent runs with an advisory lock. With --status it lists every
migration, applied (with when) or pending, and changes nothing.
`

// runMigrate is `tidyhooks migrate`.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), migrateHelp) }
	status := fs.Bool("status", false, "list applied and pending migrations; change nothing")
	if err := fs.Parse(args); err != nil {
		if isHelp(args[0]) {
			fs.SetOutput(stdout)
			fs.Usage()
		}
		return parseError(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("migrate takes no arguments (configure it with DATABASE_URL): %q", fs.Args())
	}
	cfg, err := loadConfig(modeMigrate, getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{NoMigrate: true})
	if err != nil {
		return err
	}
	defer st.Close()
	if *status {
		states, err := st.MigrationStatus(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "MIGRATION\tSTATE\tAPPLIED AT")
		pending := 0
		for _, m := range states {
			state, at := "pending", "-"
			if m.Applied {
				state, at = "applied", m.AppliedAt.Format(time.RFC3339)
			} else {
				pending++
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Name, state, at)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "migrate: %d applied, %d pending\n", len(states)-pending, pending)
		return nil
	}
	applied, err := st.Migrate(ctx)
	if len(applied) > 0 {
		fmt.Fprintf(stdout, "migrate: applied %s\n", strings.Join(applied, ", "))
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrate: the schema is up to date")
	return nil
}
