package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is a whole bench run: the service's phase and, where measured,
// the floor's, with our throughput as a share of it.
type Report struct {
	Setup         string    `json:"setup"`
	Scenario      string    `json:"scenario"`
	Events        int       `json:"events"`
	Rate          float64   `json:"rate"`
	Batch         int       `json:"batch"`
	Machine       string    `json:"machine"`
	Commit        string    `json:"commit,omitempty"`   // the tidyhooks binary's, where the bench started it
	Postgres      string    `json:"postgres,omitempty"` // which PostgreSQL, where not the one given
	StartedAt     time.Time `json:"startedAt"`
	Phases        []Phase   `json:"phases"`
	FloorRatio    float64   `json:"floorRatio,omitempty"`    // ours delivered/s over the floor's
	HistoryEvents int       `json:"historyEvents,omitempty"` // history events of one of our workflows
	FloorHistory  int       `json:"floorHistory,omitempty"`  // and of one floor workflow
	// The second floor: the bare workflow POSTing from a local activity.
	LocalFloorRatio   float64 `json:"localFloorRatio,omitempty"`
	LocalFloorHistory int     `json:"localFloorHistory,omitempty"`
}

// OK reports whether nothing was missing or rejected in any phase.
func (r Report) OK() bool {
	for _, p := range r.Phases {
		if p.Missing > 0 || p.Rejected > 0 {
			return false
		}
	}
	return len(r.Phases) > 0
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond))
}

// WriteTable prints the report as a table.
func (r Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "setup %s, scenario %s, %d events", r.Setup, r.Scenario, r.Events)
	if r.Rate > 0 {
		fmt.Fprintf(w, " at %.0f/s", r.Rate)
	} else {
		fmt.Fprint(w, " as fast as accepted")
	}
	if r.Batch > 1 {
		fmt.Fprintf(w, ", batches of %d", r.Batch)
	}
	fmt.Fprintf(w, ", on %s\n", r.Machine)
	if r.Commit != "" {
		fmt.Fprintf(w, "commit %s, started %s", r.Commit, r.StartedAt.Format(time.RFC3339))
		if r.Postgres != "" {
			fmt.Fprintf(w, ", PostgreSQL %s", r.Postgres)
		}
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\taccepted/s\tdelivered/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\tdelivered\tmissing\tdup\tCPU s\tpeak RSS MiB\t")
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t%d/%d\t%d\t%d\t%.1f\t%.0f\t\n",
			p.Name, p.AcceptedPerSec, p.DeliveredPerSec, ms(p.Latency.P50), ms(p.Latency.P95), ms(p.Latency.P99), ms(p.Latency.Max),
			p.Delivered, p.Expected, p.Missing, p.Duplicates, p.CPUSeconds, p.PeakRSSMiB)
	}
	_ = tw.Flush()
	for _, p := range r.Phases {
		if len(p.ByKind) == 0 {
			continue
		}
		kinds := make([]string, 0, len(p.ByKind))
		for k := range p.ByKind {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		fmt.Fprintf(w, "%s by process:", p.Name)
		for _, k := range kinds {
			u := p.ByKind[k]
			fmt.Fprintf(w, "  %s ×%d %.1f CPU s, %.0f MiB;", k, u.Processes, u.CPUSeconds, u.PeakRSSMiB)
		}
		fmt.Fprintln(w)
	}
	for _, p := range r.Phases {
		writeStatements(w, p)
	}
	for _, p := range r.Phases {
		var classes []string
		for c := range p.LatencyByClass {
			if c != "healthy" {
				classes = append(classes, c)
			}
		}
		sort.Strings(classes)
		for _, c := range classes {
			l := p.LatencyByClass[c]
			fmt.Fprintf(w, "%s, %s endpoints: p50 %s ms, p99 %s ms\n", p.Name, c, ms(l.P50), ms(l.P99))
		}
		if p.Undeliverable > 0 {
			fmt.Fprintf(w, "%s: %d pairs to refusing endpoints (still being retried, not counted as missing)\n", p.Name, p.Undeliverable)
		}
		if len(p.MissingPairs) > 0 {
			var s []string
			for _, m := range p.MissingPairs {
				s = append(s, m.EventID+"→"+m.WebhookID)
			}
			fmt.Fprintf(w, "%s: MISSING (first %d): %s\n", p.Name, len(s), strings.Join(s, ", "))
		}
	}
	if r.FloorRatio > 0 {
		fmt.Fprintf(w, "throughput: %.0f %% of the bare one-activity floor", 100*r.FloorRatio)
		if r.LocalFloorRatio > 0 {
			fmt.Fprintf(w, ", %.0f %% of the bare local-activity floor", 100*r.LocalFloorRatio)
		}
		fmt.Fprintln(w)
	}
	if r.HistoryEvents > 0 {
		fmt.Fprintf(w, "history events per event: %d", r.HistoryEvents)
		if r.FloorHistory > 0 {
			fmt.Fprintf(w, " (one-activity floor: %d, local-activity floor: %d)", r.FloorHistory, r.LocalFloorHistory)
		}
		fmt.Fprintln(w)
	}
}

// writeStatements prints what PostgreSQL ran for a phase, by group, per
// accepted event.
func writeStatements(w io.Writer, p Phase) {
	if len(p.Statements) == 0 {
		return
	}
	fmt.Fprintf(w, "%s PostgreSQL statements per event:", p.Name)
	for _, g := range StatementGroups {
		if s, ok := p.Statements[g]; ok {
			fmt.Fprintf(w, "  %s %.1f calls %.2f ms;", g, s.CallsPerEvent, s.MSPerEvent)
		}
	}
	fmt.Fprintln(w)
}
