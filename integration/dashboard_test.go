package integration_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tidysupport/tidyhooks/workflows"
)

// browser starts a headless Chromium for t. CHROMIUM names the binary;
// by default it is chromium on the PATH (apt-get install -y chromium).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		var err error
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Fatal("the dashboard test needs Chromium: apt-get install -y chromium (or set CHROMIUM)")
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Env("TZ=UTC"), // the page shows and reads local times; the test writes UTC
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 8*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// page drives the dashboard; every step fails the test at once.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p page) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// until waits for a JavaScript condition on the page.
func (p page) until(what, expr string) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(45*time.Second))); err != nil {
		p.t.Fatalf("wait for %s: %v", what, err)
	}
}

func (p page) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

func (p page) attr(sel, name string) string {
	p.t.Helper()
	a, err := chromedp.Run(p.ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		p.t.Fatalf("read %s of %s: %v", name, sel, err)
	}
	return a.Value
}

func (p page) eval(expr string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

func (p page) click(sel string) {
	p.t.Helper()
	p.run("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// signedIn opens the dashboard at base and signs in with key.
func (p page) signedIn(base, key string) {
	p.t.Helper()
	p.run("open the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#signin")))
	p.signIn(key)
}

func (p page) signIn(key string) {
	p.t.Helper()
	p.run("sign in", chromedp.SetValue(chromedp.CSS("#api-key"), key), chromedp.Click(chromedp.CSS("#sign-in")))
}

// The dashboard, in a real browser, against the real API, Temporal and a
// real receiver: sign in, create a webhook choosing events by family, see
// its deliveries and their attempts, retry, test, pause and resume, rotate
// and reveal the secret, the 7-day chart, links into the Temporal UI, edit
// and delete.
func TestDashboard(t *testing.T) {
	s := newStack(t, stackOptions{eager: true})
	var failing atomic.Bool
	r := newReceiver(t, func(int) int {
		if failing.Load() {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	p := page{t, browser(t)}

	p.run("open the dashboard", chromedp.Navigate(s.api.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#signin")))
	p.signIn("tsk_not_a_real_key_000000")
	p.until("bad key refused", `document.querySelector('#signin-error').textContent.includes('not valid')`)
	p.signIn(s.emitOnlyA)
	p.until("emit-only key refused", `document.querySelector('#signin-error').textContent.includes('api_user')`)
	p.signIn(s.keyA)
	p.run("webhook list", chromedp.WaitVisible(chromedp.CSS("#no-webhooks")))

	// Create: the conversation family as a whole, and one contact event.
	p.click("#new-webhook")
	p.run("fill the form",
		chromedp.WaitVisible(chromedp.CSS("#webhook-form")),
		chromedp.SetValue(chromedp.CSS("#wh-url"), r.URL+"/hook"),
		chromedp.SetValue(chromedp.CSS("#wh-name"), "Support bot"),
		chromedp.Click(chromedp.CSS(`input[data-pattern="CONVERSATION_*"]`)),
		chromedp.Click(chromedp.CSS(`input[data-event="CONTACT_CREATED"]`)),
	)
	p.until("family covers its events", `document.querySelector('input[data-event="CONVERSATION_CREATED"]').disabled`)
	p.click("#save-webhook")
	p.until("the new secret", `document.querySelector('#secret-box').textContent.includes('whsec_')`)
	code, list := s.do("GET", "/v1/webhooks", s.keyA, "")
	hooks := items(list, "webhooks")
	if code != http.StatusOK || len(hooks) != 1 || fmt.Sprint(hooks[0]["events"]) != "[CONVERSATION_* CONTACT_CREATED]" || hooks[0]["displayName"] != "Support bot" {
		t.Fatalf("created webhook = %v", list)
	}
	id := hooks[0]["id"].(string)

	// A delivery shows in the log with its attempt and workflow link.
	ev := s.emit(s.keyA, `{"event": "conversation.created", "payload": {"conversation": {"id": "cnv_1"}}}`)
	s.wait(ev)
	p.click("#refresh-deliveries")
	row := `tr.delivery[data-event-id="` + ev + `"]`
	p.until("the delivery", `!!document.querySelector('`+row+`')`)
	if got := p.text(row + " td:nth-child(3)"); got != "delivered" {
		t.Errorf("delivery status = %q", got)
	}
	p.click(row + " button.attempts")
	p.until("its attempts", `document.querySelectorAll('tr.attempts-row tr.attempt').length === 1`)
	href := p.attr(row+" a.workflow", "href")
	if !strings.HasPrefix(href, "http://ui.test/namespaces/default/workflows/"+workflows.EventWorkflowID("wrk_a", ev)+"/") {
		t.Errorf("workflow link = %q", href)
	}

	// Retry: the same event again, a second attempt in the log.
	p.click(row + " button.retry")
	p.until("the retry", `document.querySelector('#action-result').textContent.includes('Retried: delivered')`)
	p.until("two attempts", `document.querySelectorAll('tr.attempts-row tr.attempt').length === 2`)
	if n := r.eventIDs()[ev]; n != 2 {
		t.Errorf("receiver got the event %d times after a retry, want 2", n)
	}

	// Test event, then the chart counts today's three attempts.
	p.click("#test-webhook")
	p.until("the test", `document.querySelector('#action-result').textContent.includes('Test event delivered: 200')`)
	p.until("the chart", `document.querySelectorAll('#chart g.day').length === 7 && document.querySelector('#chart g.day:last-child').dataset.delivered === '3'`)

	// Pause and resume.
	p.click("#toggle-pause")
	p.until("paused", `document.querySelector('#detail-status').textContent === 'PAUSED'`)
	if _, w := s.do("GET", "/v1/webhooks/"+id, s.keyA, ""); w["status"] != "PAUSED" {
		t.Errorf("after pausing, status = %v", w["status"])
	}
	p.click("#toggle-pause")
	p.until("resumed", `document.querySelector('#detail-status').textContent === 'ACTIVE'`)

	// Rotate, then reveal both secrets.
	p.click("#rotate-secret")
	p.until("rotated", `document.querySelector('#secret-box').textContent.includes('New signing secret: whsec_')`)
	p.click("#reveal-secret")
	p.until("revealed", `document.querySelector('#secret-box').textContent.includes('Previous secret')`)
	_, secrets := s.do("GET", "/v1/webhooks/"+id+"/secret", s.keyA, "")
	if box := p.text("#secret-box"); !strings.Contains(box, fmt.Sprint(secrets["secret"])) {
		t.Errorf("revealed %q, want the current secret %v", box, secrets["secret"])
	}

	// A failing test shows as the last error in the list.
	failing.Store(true)
	p.click("#test-webhook")
	p.until("the failed test", `document.querySelector('#action-result').textContent.includes('Test event failed')`)
	// An event that fails for good, recovered from the page once the
	// endpoint answers again.
	lost := s.emit(s.keyA, `{"event": "conversation.closed", "payload": {}}`)
	if o := s.wait(lost).Webhooks[0]; o.Outcome != "failed" {
		t.Fatalf("outcome = %+v, want failed", o)
	}
	// The log filtered by status shows only the failed ones.
	p.eval(`(() => { const f = document.querySelector('#delivery-status'); f.value = 'failed'; f.dispatchEvent(new Event('change')); return ''; })()`)
	p.until("only failed deliveries", `(() => { const rows = [...document.querySelectorAll('tr.delivery')];
		return rows.length === 2 && rows.every(r => r.querySelector('td:nth-child(3)').textContent === 'failed') &&
			rows.some(r => r.dataset.eventId === '`+lost+`'); })()`)
	since := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")
	p.run("recover since", chromedp.SetValue(chromedp.CSS("#recover-since"), since))
	p.click("#recover-count")
	p.until("the count", `document.querySelector('#recover-result').textContent === '1 deliveries would be redelivered.'`)
	before := r.eventIDs()[lost]
	failing.Store(false)
	p.click("#recover-run")
	p.until("the recover", `document.querySelector('#recover-result').textContent.startsWith('Redelivering 1 deliveries')`)
	eventually(t, "the recovered delivery", func() bool { return r.eventIDs()[lost] == before+1 })
	failing.Store(true)
	p.click("#test-webhook")
	p.until("another failed test", `document.querySelector('#action-result').textContent.includes('Test event failed')`)

	p.click("#back")
	p.until("the list's last error", `(document.querySelector('#webhook-table tr[data-id="`+id+`"] td.error') || {}).textContent?.includes('500')`)

	// Edit: every event.
	p.click(`#webhook-table tr[data-id="` + id + `"] a.open`)
	p.run("detail", chromedp.WaitVisible(chromedp.CSS("#edit-webhook")))
	p.click("#edit-webhook")
	p.until("the form keeps the family", `document.querySelector('input[data-pattern="CONVERSATION_*"]').checked && document.querySelector('input[data-event="CONTACT_CREATED"]').checked`)
	p.click("#ev-all")
	p.click("#save-webhook")
	p.run("detail after edit", chromedp.WaitVisible(chromedp.CSS("#detail")))
	p.until("saved", `document.querySelector('#detail-url').textContent.endsWith('*')`)
	if _, w := s.do("GET", "/v1/webhooks/"+id, s.keyA, ""); fmt.Sprint(w["events"]) != "[*]" {
		t.Errorf("after editing, events = %v", w["events"])
	}

	// Delete takes a second click.
	p.click("#delete-webhook")
	if code, _ := s.do("GET", "/v1/webhooks/"+id, s.keyA, ""); code != http.StatusOK {
		t.Fatal("one click deleted the webhook")
	}
	p.click("#delete-webhook")
	p.run("empty list", chromedp.WaitVisible(chromedp.CSS("#no-webhooks")))
	if code, _ := s.do("GET", "/v1/webhooks/"+id, s.keyA, ""); code != http.StatusNotFound {
		t.Errorf("after deleting, GET = %d", code)
	}

	// Sign out forgets the key.
	p.click("#sign-out")
	p.run("signed out", chromedp.WaitVisible(chromedp.CSS("#signin")))
	if stored := p.eval(`sessionStorage.getItem('tidyhooks.apiKey') || ''`); stored != "" {
		t.Errorf("the key is still stored after signing out")
	}
}
