package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tidysupport/tidyhooks/internal/freeport"
)

// binary builds tidyhooks once per test run.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "tidyhooks-bin")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "tidyhooks")
	out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return path, nil
})

// process is a running tidyhooks command with its output collected.
type process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
	// metricsAddr is a worker's /metrics and /readyz address.
	metricsAddr string
}

func start(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: exec.Command(bin, args...), done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	go func() { err := p.cmd.Wait(); pw.Close(); p.done <- err }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("output of %v:\n%s", args, p.output())
		}
	})
	return p
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitForOrExit is waitFor that reports an exit instead of failing.
func (p *process) waitForOrExit(t *testing.T, re string) (string, bool) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if m := rx.FindStringSubmatch(p.output()); m != nil {
			return m[len(m)-1], true
		}
		select {
		case err := <-p.done:
			p.done <- err
			return "", false
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q in:\n%s", re, p.output())
		}
	}
}

// waitFor polls the output until re matches, and returns the first group.
func (p *process) waitFor(t *testing.T, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if m := rx.FindStringSubmatch(p.output()); m != nil {
			if len(m) > 1 {
				return m[1]
			}
			return m[0]
		}
		select {
		case err := <-p.done:
			t.Fatalf("process exited (%v) before printing %q:\n%s", err, re, p.output())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q in:\n%s", re, p.output())
		}
	}
}

// stop interrupts the process as Ctrl-C does and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after Ctrl-C: %v\n%s", err, p.output())
		}
	case <-time.After(time.Minute):
		t.Fatal("did not stop within a minute of Ctrl-C")
	}
}

// taken are ports handed out by freePort in this test binary.
var taken sync.Map

// freePort returns a loopback port below 32768 that nothing listens on,
// with the seven after it free too (the embedded Temporal server's), and
// that no other test of this binary was given.
func freePort(t *testing.T) int {
	t.Helper()
	port, err := freeport.BlockFunc("127.0.0.1", 8, func(first int) bool {
		_, dup := taken.LoadOrStore(first, true)
		return dup
	})
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// walkthrough returns the README's walkthrough commands.
func walkthrough(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "<!-- walkthrough -->\n```sh\n")
	if !ok {
		t.Fatal("README has no walkthrough block")
	}
	block, _, _ := strings.Cut(rest, "```")
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		if !strings.HasPrefix(l, "export ") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// TestDevWalkthrough starts `tidyhooks dev` and `tidyhooks receive` as
// processes and runs the README's curl walkthrough against them; then
// stops dev with a delivery still being retried, starts it again, and
// checks the webhook, the key and the delivery survived.
func TestDevWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run the README walkthrough")
	}
	dataDir := t.TempDir()
	env := []string{"TIDYHOOKS_RETRY_SCHEDULE=2s,2s,2s,2s,2s,2s,2s,2s,2s,2s"}
	var (
		httpAddr  string
		uport     int
		args      []string
		dev       *process
		key       string
		startedAt time.Time
	)
	// Ports are checked free when picked, but another test package may
	// take one before dev binds it: pick again then.
	for try := 1; ; try++ {
		httpAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
		tport := freePort(t)
		uport = freePort(t)
		args = []string{"dev", "--http-addr", httpAddr, "--temporal-port", strconv.Itoa(tport), "--ui-port", strconv.Itoa(uport), "--data-dir", dataDir}
		startedAt = time.Now()
		dev = start(t, env, args...)
		var ok bool
		key, ok = dev.waitForOrExit(t, `API key: (tsk_\S+)`)
		if ok {
			break
		}
		if try == 3 || !strings.Contains(dev.output(), "not free") {
			t.Fatalf("dev did not start:\n%s", dev.output())
		}
	}
	t.Logf("dev ready in %s", time.Since(startedAt))
	// The data dir's files are the owner's alone (tidyhooks.db was 0644).
	files, _ := filepath.Glob(filepath.Join(dataDir, "*"))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && !fi.IsDir() && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: want it readable by its owner only", filepath.Base(f), fi.Mode().Perm())
		}
	}
	if len(files) < 3 {
		t.Errorf("the data dir holds %v", files)
	}
	if ws := dev.waitFor(t, `Workspace: (\S+)`); ws == "" {
		t.Fatal("no workspace printed")
	}
	dev.waitFor(t, regexp.QuoteMeta("http://127.0.0.1:"+strconv.Itoa(uport)))
	dev.waitFor(t, regexp.QuoteMeta("Dashboard:         http://"+httpAddr+"/dashboard/"))
	if page, err := exec.Command("curl", "-sfL", "-D", "-", "http://"+httpAddr+"/").Output(); err != nil ||
		!bytes.Contains(page, []byte("<title>TidySupport Webhooks</title>")) || !bytes.Contains(page, []byte("Content-Security-Policy")) {
		t.Errorf("the dashboard is not served at / (%v):\n%s", err, page)
	}

	rport := freePort(t)
	recv := start(t, nil, "receive", "--addr", "127.0.0.1:"+strconv.Itoa(rport))
	recv.waitFor(t, "Receiving on")

	script := walkthrough(t)
	script = strings.ReplaceAll(script, "127.0.0.1:8080", httpAddr)
	script = strings.ReplaceAll(script, "127.0.0.1:9000", "127.0.0.1:"+strconv.Itoa(rport))
	sh := exec.Command("sh", "-ec", script)
	sh.Env = append(os.Environ(), "TIDYHOOKS_API_KEY="+key)
	emittedAt := time.Now()
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("walkthrough failed: %v\n%s", err, out)
	}
	for _, want := range []string{`"secret":"whsec_`, `"id":"evt_`, `"displayName":"My laptop"`, `"nextCursor":null`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("walkthrough output lacks %s:\n%s", want, out)
		}
	}
	recv.waitFor(t, `event=conversation\.created\s+webhook-id=evt_\S+\s+attempt=1`)

	// "Test this webhook" answers with a link to its workflow in the
	// embedded Temporal UI, which serves it.
	whID := regexp.MustCompile(`"id":"(wh_[^"]+)"`).FindSubmatch(out)
	if whID == nil {
		t.Fatalf("no webhook id in the walkthrough output:\n%s", out)
	}
	tested, err := exec.Command("curl", "-sf", "-X", "POST", "http://"+httpAddr+"/v1/webhooks/"+string(whID[1])+"/test",
		"-H", "Authorization: Bearer "+key).Output()
	if err != nil {
		t.Fatalf("test webhook: %v %s", err, tested)
	}
	var testAnswer struct {
		Delivered   bool
		WorkflowURL string
	}
	if err := json.Unmarshal(tested, &testAnswer); err != nil || !testAnswer.Delivered ||
		!strings.HasPrefix(testAnswer.WorkflowURL, "http://127.0.0.1:"+strconv.Itoa(uport)+"/namespaces/default/workflows/evt_") {
		t.Errorf("test answer = %s (%v), want delivered with a link into the embedded UI", tested, err)
	} else if page, err := exec.Command("curl", "-sf", testAnswer.WorkflowURL).Output(); err != nil || !bytes.Contains(page, []byte("<html")) {
		t.Errorf("the workflow link does not open in the UI: %v", err)
	}
	t.Logf("first delivery arrived %s after the walkthrough started", time.Since(emittedAt))

	// keys works on the data dir while dev runs, and dev honours a new key
	// and a revocation at once.
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	created, err := exec.Command(bin, "keys", "create", "--data-dir", dataDir, "--workspace", "wrk_demo", "--scope", "api_user").CombinedOutput()
	if err != nil {
		t.Fatalf("keys create while dev runs: %v %s", err, created)
	}
	lines := strings.Split(strings.TrimSpace(string(created)), "\n")
	newKey := lines[len(lines)-1]
	listed, err := exec.Command("curl", "-sf", "http://"+httpAddr+"/v1/webhooks", "-H", "Authorization: Bearer "+newKey).CombinedOutput()
	if err != nil || !bytes.Contains(listed, []byte(`"displayName":"My laptop"`)) {
		t.Errorf("the new key lists %s (%v), want the walkthrough's webhook", listed, err)
	}
	keyID := regexp.MustCompile(`key_\S+?,`).FindString(string(created))
	if out, err := exec.Command(bin, "keys", "revoke", "--data-dir", dataDir, strings.TrimSuffix(keyID, ",")).CombinedOutput(); err != nil {
		t.Fatalf("keys revoke: %v %s", err, out)
	}
	code, _ := exec.Command("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://"+httpAddr+"/v1/webhooks", "-H", "Authorization: Bearer "+newKey).Output()
	if string(code) != "401" {
		t.Errorf("revoked key answered %s, want 401 at once", code)
	}

	// A webhook whose endpoint is down; its event is still being retried
	// when dev stops.
	down := freePort(t)
	curl := exec.Command("curl", "-sf", "-X", "POST", "http://"+httpAddr+"/v1/webhooks",
		"-H", "Authorization: Bearer "+key, "-H", "Content-Type: application/json",
		"-d", fmt.Sprintf(`{"url": "http://127.0.0.1:%d/later", "events": ["contact.created"]}`, down))
	if out, err := curl.CombinedOutput(); err != nil {
		t.Fatalf("create webhook: %v %s", err, out)
	}
	curl = exec.Command("curl", "-sf", "-X", "POST", "http://"+httpAddr+"/v1/events",
		"-H", "Authorization: Bearer "+key, "-H", "Content-Type: application/json", "-d", `{"id": "evt_survives_restart", "event": "contact.created", "payload": {"contact": {"id": "cnt_1"}}}`)
	if out, err := curl.CombinedOutput(); err != nil {
		t.Fatalf("emit: %v %s", err, out)
	}
	stopAt := time.Now()
	dev.stop(t)
	t.Logf("dev stopped in %s", time.Since(stopAt))

	later := start(t, nil, "receive", "--addr", "127.0.0.1:"+strconv.Itoa(down))
	later.waitFor(t, "Receiving on")
	dev = start(t, env, args...)
	if again := dev.waitFor(t, `API key: (tsk_\S+)`); again != key {
		t.Errorf("API key after restart = %s, want %s", again, key)
	}
	t.Logf("dev restarted in %s", time.Since(stopAt))
	later.waitFor(t, `event=contact\.created\s+webhook-id=evt_survives_restart`)
	t.Logf("pending delivery arrived %s after the stop", time.Since(stopAt))
	list, err := exec.Command("curl", "-sf", "http://"+httpAddr+"/v1/webhooks", "-H", "Authorization: Bearer "+key).Output()
	if err != nil || bytes.Count(list, []byte(`"id":"wh_`)) != 2 {
		t.Errorf("webhooks after restart: %v %s, want both", err, list)
	}
	// The delivery log survives the restart too: the walkthrough's event
	// and the test, both delivered.
	log, err := exec.Command("curl", "-sf", "http://"+httpAddr+"/v1/webhooks/"+string(whID[1])+"/deliveries?status=delivered",
		"-H", "Authorization: Bearer "+key).Output()
	if err != nil || !bytes.Contains(log, []byte(`"event":"conversation.created"`)) || !bytes.Contains(log, []byte(`"event":"testing.connection"`)) {
		t.Errorf("delivery log after restart: %v %s", err, log)
	}
	dev.stop(t)

}
