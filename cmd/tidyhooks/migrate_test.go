package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/tidysupport/tidyhooks/internal/testenv"
)

// `tidyhooks migrate` applies every migration to a fresh database once;
// an api with TIDYHOOKS_MIGRATE_ON_START=false refuses the database before
// it, and bad input changes nothing.
func TestMigrateCommand(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	// An api that may not migrate refuses the fresh database, naming the command.
	var out bytes.Buffer
	err := run(ctx, []string{"api"}, env(map[string]string{
		"DATABASE_URL": url, "TIDYHOOKS_ENCRYPTION_KEY": testKey, "TIDYHOOKS_MIGRATE_ON_START": "false", "TIDYHOOKS_LOG_LEVEL": "error",
	}), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "tidyhooks migrate") || !strings.Contains(err.Error(), "0001_init.sql") {
		t.Fatalf("api on an unmigrated database: %v", err)
	}

	for _, bad := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"migrate"}, map[string]string{}, "DATABASE_URL is required"},
		{[]string{"migrate", "now"}, map[string]string{"DATABASE_URL": url}, "takes no arguments"},
		{[]string{"migrate", "--force"}, map[string]string{"DATABASE_URL": url}, ""},
		{[]string{"migrate"}, map[string]string{"DATABASE_URL": "mysql://x"}, "unsupported URL"},
	} {
		out.Reset()
		err := run(ctx, bad.args, env(bad.env), &out, &out)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v with %v: %v, want an error containing %q", bad.args, bad.env, err, bad.want)
		}
	}

	// --status lists what is pending and changes nothing.
	for range 2 {
		out.Reset()
		if err := run(ctx, []string{"migrate", "--status"}, env(map[string]string{"DATABASE_URL": url}), &out, &out); err != nil {
			t.Fatalf("migrate --status: %v\n%s", err, out.String())
		}
		if got := out.String(); !regexp.MustCompile(`0001_init\.sql\s+pending\s+-`).MatchString(got) || !strings.Contains(got, "migrate: 0 applied") {
			t.Errorf("status of a fresh database said:\n%s", got)
		}
	}
	out.Reset()
	if err := run(ctx, []string{"migrate"}, env(map[string]string{"DATABASE_URL": url}), &out, &out); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out.String())
	}
	if got := out.String(); !strings.Contains(got, "applied 0001_init.sql, 0002_") || !strings.Contains(got, "up to date") {
		t.Errorf("first migrate said:\n%s", got)
	}
	out.Reset()
	if err := run(ctx, []string{"migrate"}, env(map[string]string{"DATABASE_URL": url}), &out, &out); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	if got := out.String(); strings.Contains(got, "applied") || !strings.Contains(got, "up to date") {
		t.Errorf("second migrate said:\n%s", got)
	}
	out.Reset()
	if err := run(ctx, []string{"migrate", "--status"}, env(map[string]string{"DATABASE_URL": url}), &out, &out); err != nil {
		t.Fatalf("migrate --status: %v", err)
	}
	if got := out.String(); !regexp.MustCompile(`0013_portal_keys\.sql\s+applied\s+20`).MatchString(got) || strings.Contains(got, "pending  ") || !strings.Contains(got, " 0 pending") {
		t.Errorf("status of a migrated database said:\n%s", got)
	}
}
