package main

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Ports       []string `yaml:"ports"`
		Volumes     []string `yaml:"volumes"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		Deploy struct {
			Replicas int `yaml:"replicas"`
		} `yaml:"deploy"`
	} `yaml:"services"`
}

// No Docker engine runs here, so docker-compose.yml is checked by parsing
// it: the production topology, wired to what the binary actually reads.
func TestDockerComposeDescribesTheProductionTopology(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml does not parse: %v", err)
	}
	for _, name := range []string{"postgres", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui", "migrate", "api", "worker"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %s is missing", name)
		}
	}
	checkTemporalServices(t, c)
	// Every long-running service says when it is healthy.
	for _, name := range []string{"postgres", "temporal", "temporal-ui", "api", "worker"} {
		if hc := c.Services[name].Healthcheck; hc == nil || len(hc.Test) == 0 {
			t.Errorf("%s has no health check", name)
		}
	}
	// Our migrations are a one-shot step the API and workers wait for, and
	// they do not migrate themselves.
	if m := c.Services["migrate"]; m.Build == nil || !slices.Equal(m.Command, []string{"migrate"}) || m.Environment["DATABASE_URL"] != c.Services["api"].Environment["DATABASE_URL"] {
		t.Errorf("migrate: build %v command %v env %v, want the local image running migrate on the API's database", m.Build, m.Command, m.Environment)
	}
	if _, err := loadConfig(modeMigrate, func(k string) string { return c.Services["migrate"].Environment[k] }); err != nil {
		t.Errorf("migrate: configuration does not load: %v", err)
	}
	documented := readmeVariables(t)
	for _, name := range []string{"api", "worker"} {
		s := c.Services[name]
		if s.Build == nil || !slices.Equal(s.Command, []string{name}) {
			t.Errorf("%s: build %v command %v, want the local image running %q", name, s.Build, s.Command, name)
		}
		for _, v := range []string{"DATABASE_URL", "TEMPORAL_ADDRESS"} {
			if s.Environment[v] == "" {
				t.Errorf("%s: %s is not set", name, v)
			}
		}
		for v := range s.Environment {
			if !slices.Contains(documented, v) {
				t.Errorf("%s sets %s, which the README's configuration table does not document", name, v)
			}
		}
		if !strings.Contains(s.Environment["DATABASE_URL"], "@postgres:5432/") || !strings.HasPrefix(s.Environment["TEMPORAL_ADDRESS"], "temporal:") {
			t.Errorf("%s does not point at the compose services: %v", name, s.Environment)
		}
		if s.Environment["TIDYHOOKS_MIGRATE_ON_START"] != "false" {
			t.Errorf("%s migrates on start; the migrate service does that", name)
		}
		for dep, cond := range map[string]string{"migrate": "service_completed_successfully", "temporal-namespace": "service_completed_successfully", "temporal": "service_healthy"} {
			if got := s.DependsOn[dep].Condition; got != cond {
				t.Errorf("%s depends on %s with %q, want %q", name, dep, got, cond)
			}
		}
		// Its configuration must load as the binary would read it, with the
		// variables compose takes from the operator's shell filled in.
		env := map[string]string{}
		for k, v := range s.Environment {
			if strings.HasPrefix(v, "${"+k+":?") {
				v = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
			}
			env[k] = v
		}
		if _, err := loadConfig(mode(name), func(k string) string { return env[k] }); err != nil {
			t.Errorf("%s: configuration does not load: %v", name, err)
		}
	}
	if c.Services["worker"].Deploy.Replicas < 2 {
		t.Error("worker should run several replicas to show it scales")
	}
	if c.Services["api"].DependsOn["postgres"].Condition != "service_healthy" {
		t.Errorf("api must wait for a healthy postgres: %+v", c.Services["api"].DependsOn)
	}
	if hc := c.Services["api"].Healthcheck; hc == nil || !slices.Contains(hc.Test, "probe") {
		t.Error("api health check must use the binary's probe command (the image has no shell)")
	}
	if !slices.Contains(c.Services["api"].Ports, "8080:8080") {
		t.Errorf("api ports = %v, want 8080 published", c.Services["api"].Ports)
	}
	// Temporal's gRPC API and Web UI have no authentication in this file:
	// every port they publish is bound to the host's loopback.
	for _, name := range []string{"temporal", "temporal-ui"} {
		for _, p := range c.Services[name].Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %q on every interface; want 127.0.0.1:…", name, p)
			}
		}
	}
}

// readmeVariables returns the variables of the README's configuration table.
func readmeVariables(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(raw), "## Configuration")
	if !ok {
		t.Fatal("README has no Configuration section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	var out []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z_]+)` \\|").FindAllStringSubmatch(table, -1) {
		out = append(out, m[1])
	}
	return out
}

// The README's table documents exactly the variables loadConfig reads.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	read := map[string]bool{}
	for _, m := range []mode{modeDev, modeAPI, modeWorker} {
		_, _ = loadConfig(m, func(k string) string { read[k] = true; return "" })
	}
	var got []string
	for k := range read {
		got = append(got, k)
	}
	sort.Strings(got)
	want := readmeVariables(t)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("loadConfig reads %v\nREADME documents %v", got, want)
	}
}

// checkTemporalServices: the Temporal images are the versions go.mod pins,
// the schema is set up by Temporal's own tool before the server starts,
// and the server's dynamic config turns fairness on for our task queue.
func checkTemporalServices(t *testing.T, c composeFile) {
	t.Helper()
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	pinned := func(module string) string {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + ` v(\S+)`).FindSubmatch(mod)
		if m == nil {
			t.Fatalf("go.mod does not require %s", module)
		}
		return string(m[1])
	}
	server, ui := pinned("go.temporal.io/server"), pinned("github.com/temporalio/ui-server/v2")
	for name, want := range map[string]string{
		"temporal":           "temporalio/server:" + server,
		"temporal-schema":    "temporalio/admin-tools:" + server,
		"temporal-namespace": "temporalio/admin-tools:" + server,
		"temporal-ui":        "temporalio/ui:" + ui,
	} {
		if got := c.Services[name].Image; got != want {
			t.Errorf("%s image = %q, want %q (the version go.mod pins)", name, got, want)
		}
	}
	schema := strings.Join(c.Services["temporal-schema"].Command, "\n")
	for _, step := range []string{"temporal-sql-tool", "setup-schema", "update-schema", "temporal_visibility"} {
		if !strings.Contains(schema, step) {
			t.Errorf("temporal-schema does not run %s", step)
		}
	}
	if got := c.Services["temporal"].DependsOn["temporal-schema"].Condition; got != "service_completed_successfully" {
		t.Errorf("temporal starts before its schema is set up (%q)", got)
	}
	var mounted string
	for _, v := range c.Services["temporal"].Volumes {
		host, container, _ := strings.Cut(v, ":")
		if strings.HasSuffix(strings.TrimSuffix(container, ":ro"), c.Services["temporal"].Environment["DYNAMIC_CONFIG_FILE_PATH"]) {
			mounted = host
		}
	}
	if mounted == "" {
		t.Fatalf("temporal's DYNAMIC_CONFIG_FILE_PATH %q is not mounted from the repository", c.Services["temporal"].Environment["DYNAMIC_CONFIG_FILE_PATH"])
	}
	raw, err := os.ReadFile("../../" + mounted)
	if err != nil {
		t.Fatal(err)
	}
	var dc map[string][]struct {
		Value       any               `yaml:"value"`
		Constraints map[string]string `yaml:"constraints"`
	}
	if err := yaml.Unmarshal(raw, &dc); err != nil {
		t.Fatalf("%s: %v", mounted, err)
	}
	fair := dc["matching.enableFairness"]
	if len(fair) == 0 || fair[0].Value != true || fair[0].Constraints["taskQueueName"] != "tidyhooks-deliveries" {
		t.Errorf("%s does not enable fairness on tidyhooks-deliveries: %+v", mounted, fair)
	}
	// As the embedded server: one write partition (BENCHMARKS.md).
	parts := dc["matching.numTaskqueueWritePartitions"]
	if len(parts) == 0 || parts[0].Value != 1 || parts[0].Constraints["taskQueueName"] != "tidyhooks-deliveries" {
		t.Errorf("%s does not write tidyhooks-deliveries to one partition: %+v", mounted, parts)
	}
}
