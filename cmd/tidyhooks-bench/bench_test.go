package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/bench"
	"github.com/tidysupport/tidyhooks/internal/testenv"
)

// binaries builds tidyhooks and tidyhooks-bench side by side once per
// test run: the bench finds tidyhooks beside itself.
var binaries = sync.OnceValues(func() (struct{ tidyhooks, bench string }, error) {
	var out struct{ tidyhooks, bench string }
	dir, err := os.MkdirTemp("", "tidyhooks-bin")
	if err != nil {
		return out, err
	}
	out.tidyhooks, out.bench = filepath.Join(dir, "tidyhooks"), filepath.Join(dir, "tidyhooks-bench")
	for pkg, path := range map[string]string{"../tidyhooks": out.tidyhooks, ".": out.bench} {
		if b, err := exec.Command("go", "build", "-o", path, pkg).CombinedOutput(); err != nil {
			return out, fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	return out, nil
})

// TestShortBench runs tidyhooks-bench end to end as a correctness check:
// every (event, webhook) pair must be reconciled. No timing is asserted.
func TestShortBench(t *testing.T) {
	bins, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"one webhook per event with the floor", []string{"--scenario", "a", "--events", "200"}},
		{"ten webhooks per event in batches", []string{"--scenario", "b", "--events", "40", "--batch", "10"}},
		{"refusing and slow endpoints at a fixed rate", []string{"--scenario", "c", "--events", "100", "--rate", "50"}},
		{"production topology, two workers, with the floor, on PostgreSQL of its own", []string{"--setup", "production", "--workers", "2", "--events", "100", "--postgres", "own"}},
		{"dev on PostgreSQL", []string{"--setup", "postgres", "--events", "50", "--floor=false", "--postgres", testenv.PostgresBaseURL()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "report.json")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bins.bench, append([]string{"--json", out}, tt.args...)...)
			output, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bench failed (within 5 minutes?): %v\n%s", err, output)
			}
			// To a pipe, progress comes as lines, not one line redrawn.
			if bytes.ContainsRune(output, '\r') || !bytes.Contains(output, []byte("emitted ")) {
				t.Errorf("progress to a pipe: want lines without \\r, got %q", output[:min(len(output), 300)])
			}
			raw, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Setup, Commit, Postgres string
				Phases                  []struct {
					Name      string
					Expected  int
					Delivered int
					Missing   int
					ByKind    map[string]struct {
						Processes  int
						CPUSeconds float64
					}
					Statements map[string]bench.StatementGroup
				}
			}
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatal(err)
			}
			if len(r.Phases) == 0 {
				t.Fatal("no phases in the report")
			}
			for _, ph := range r.Phases {
				if ph.Missing != 0 || ph.Delivered != ph.Expected || ph.Expected == 0 {
					t.Errorf("%s: delivered %d of %d, missing %d", ph.Name, ph.Delivered, ph.Expected, ph.Missing)
				}
				// The production topology is measured by kind of process.
				if r.Setup == "production" && (ph.ByKind["worker"].Processes != 2 || ph.ByKind["api"].Processes != 1 || ph.ByKind["temporal"].Processes != 1) {
					t.Errorf("%s: processes by kind %+v, want 1 api, 2 workers, 1 temporal", ph.Name, ph.ByKind)
				}
				// PostgreSQL, on this machine, is measured too.
				if r.Setup == "production" && (ph.ByKind["postgres"].Processes < 2 || ph.ByKind["postgres"].CPUSeconds <= 0) {
					t.Errorf("%s: PostgreSQL measured as %+v, want its server's processes and CPU", ph.Name, ph.ByKind["postgres"])
				}
			}
			if r.Commit == "" {
				t.Error("the report names no commit")
			}
			// On its own PostgreSQL, the bench counts what each phase ran
			// there: our phase's delivery log, events and matching, and
			// every phase's Temporal persistence and visibility.
			if r.Postgres != "" {
				for _, ph := range r.Phases {
					want := []string{bench.GroupTemporalPersistence, bench.GroupTemporalVisibility}
					if ph.Name == "tidyhooks" {
						want = append(want, bench.GroupDeliveryLog, bench.GroupEvents, bench.GroupMatching)
					} else if g, ok := ph.Statements[bench.GroupDeliveryLog]; ok {
						t.Errorf("%s: a floor wrote the delivery log: %+v", ph.Name, g)
					}
					for _, g := range want {
						if s := ph.Statements[g]; s.Calls == 0 || s.CallsPerEvent <= 0 || s.ExecMS <= 0 {
							t.Errorf("%s: statements of %q: %+v, want calls and time", ph.Name, g, s)
						}
					}
				}
			}
			if r.Setup == "production" && len(r.Phases) != 3 {
				t.Errorf("%d phases, want ours and both floors", len(r.Phases))
			}
		})
	}
}

// Help exits 0 before anything is checked; bad flags and a missing
// tidyhooks binary are clear errors that start nothing.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"floor", "-h"}} {
		var out bytes.Buffer
		if err := run(context.Background(), args, func(string) string { return "" }, &out, &out); !errors.Is(err, errHelp) {
			t.Errorf("%v: err = %v, want help", args, err)
		}
		if !strings.Contains(out.String(), "-http-addr") && !strings.Contains(out.String(), "-scenario") {
			t.Errorf("%v: help lacks the flags:\n%s", args, out.String())
		}
	}
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	temporal := map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:1"}
	notProgram := filepath.Join(t.TempDir(), "tidyhooks")
	if err := os.WriteFile(notProgram, []byte("not a program"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"an unknown setup", []string{"--setup", "staging", "--tidyhooks", "/bin/true"}, nil, "--setup"},
		{"no workers", []string{"--setup", "production", "--workers", "0"}, nil, "--workers"},
		{"workers for dev", []string{"--workers", "2"}, nil, "--workers goes with --setup production"},
		{"own PostgreSQL for SQLite", []string{"--postgres", "own"}, nil, "--postgres own goes with --setup postgres or production"},
		{"a tidyhooks that is not a program", []string{"--tidyhooks", notProgram}, nil, "not an executable"},
		{"a tidyhooks that is not there", []string{"--tidyhooks", "/nonexistent/tidyhooks"}, nil, "not an executable"},
		{"a target without a key", []string{"--target", "http://127.0.0.1:1"}, nil, "--target and --key"},
		{"a floor without a role", []string{"floor"}, temporal, "give --http-addr, --work or both"},
		{"a floor with negative starts", []string{"floor", "--work", "--max-starts", "-1"}, temporal, "--max-starts"},
		{"a floor without Temporal", []string{"floor", "--work"}, nil, "TEMPORAL_ADDRESS"},
		{"a floor with arguments", []string{"floor", "--work", "extra"}, temporal, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tt.args, env(tt.env), &out, &out)
			if err == nil {
				t.Fatal("run succeeded, want an error")
			}
			if got := err.Error() + out.String(); !strings.Contains(got, tt.want) {
				t.Errorf("error %q / output %q, want it to mention %q", err, out.String(), tt.want)
			}
		})
	}
}
