package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tidysupport/tidyhooks/workflows"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the README's screenshots of the dashboard into docs/")

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
		chromedp.WindowSize(1280, 800),
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

// until waits for a JavaScript condition on the page; one that throws
// (what it reads is not rendered yet) is not met yet.
func (p page) until(what, expr string) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](`(() => { try { return !!(`+expr+`); } catch { return false; } })()`, chromedp.WithPollingTimeout(45*time.Second))); err != nil {
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

// axeSource is axe-core's script, installed from npm for the tests only
// (npm ci --prefix integration/testdata/axe); AXE_CORE names another copy.
var axeSource = sync.OnceValues(func() ([]byte, error) {
	path := os.Getenv("AXE_CORE")
	if path == "" {
		path = filepath.Join("testdata", "axe", "node_modules", "axe-core", "axe.min.js")
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the accessibility check needs axe-core: npm ci --prefix integration/testdata/axe (%w)", err)
	}
	return src, nil
})

// accessible runs axe-core on the page as it stands and fails the test on
// any serious or critical violation, naming each rule and where.
func (p page) accessible(where string) {
	p.t.Helper()
	src, err := axeSource()
	if err != nil {
		p.t.Fatal(err)
	}
	if p.eval(`typeof axe`) == "undefined" {
		if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[any](string(src)+";0")); err != nil {
			p.t.Fatalf("inject axe-core: %v", err)
		}
	}
	out, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`axe.run(document).then(r => JSON.stringify(
		r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
			.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))))`, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("run axe-core on %s: %v", where, err)
	}
	var violations []struct {
		ID, Impact, Help string
		Nodes            []string
	}
	if err := json.Unmarshal([]byte(out), &violations); err != nil {
		p.t.Fatalf("axe-core's answer on %s: %v", where, err)
	}
	for _, v := range violations {
		p.t.Errorf("%s: %s violation %s (%s) at %v", where, v.Impact, v.ID, v.Help, v.Nodes)
	}
}

// screenshot captures the window for the README: written into docs/ with
// -update-screenshots; otherwise the committed picture must be there and
// be a PNG of the window's size.
func (p page) screenshot(name string) {
	p.t.Helper()
	shot, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join("..", "docs", name+".png")
	if *updateScreenshots {
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			p.t.Fatal(err)
		}
		return
	}
	committed, err := os.ReadFile(path)
	if err != nil {
		p.t.Fatalf("the README's screenshot %s is missing: go test ./integration -run %s -update-screenshots (%v)", path, p.t.Name(), err)
	}
	want, err1 := png.DecodeConfig(bytes.NewReader(shot))
	got, err2 := png.DecodeConfig(bytes.NewReader(committed))
	if err1 != nil || err2 != nil || got.Width != want.Width || got.Height != want.Height {
		p.t.Errorf("%s is not a %d×%d PNG of the dashboard (%v, %v)", path, want.Width, want.Height, err1, err2)
	}
}

// The dashboard, in a real browser, against the real API, Temporal and
// real receivers, checked for accessibility on every page: sign in, an
// empty list that says what to do, create a webhook by ticking a family,
// emit and watch the delivery appear, send an example, open the delivery
// and read an attempt's request and response, by its deep link in a new
// tab too, reload and back; retry, test, the chart, pause and resume,
// rotate and reveal, the log filtered by link, recover, the event catalog,
// an automatic pause told by a banner until acknowledged, edit, delete.
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
	base := s.api.URL + "/dashboard/"

	p.run("open the dashboard", chromedp.Navigate(s.api.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#signin")))
	p.checked("sign in")
	p.signIn("tsk_not_a_real_key_000000")
	p.until("bad key refused", `document.querySelector('#signin-error').textContent.includes('not valid')`)
	p.signIn(s.emitOnlyA)
	p.until("emit-only key refused", `document.querySelector('#signin-error').textContent.includes('api_user')`)
	p.signIn(s.keyA)
	p.run("webhook list", chromedp.WaitVisible(chromedp.CSS("#no-webhooks")))
	if !strings.Contains(p.text("#no-webhooks"), "Create your first webhook") {
		t.Errorf("the empty list says %q", p.text("#no-webhooks"))
	}
	p.checked("the empty list")

	// Create: a bad URL is refused beside its field, and nothing is made.
	p.click("#new-webhook")
	p.run("a bad URL",
		chromedp.WaitVisible(chromedp.CSS("#webhook-form")),
		chromedp.SetValue(chromedp.CSS("#wh-url"), "ftp://example.com/hook"),
		chromedp.Click(chromedp.CSS(`input[data-event="CONTACT_CREATED"]`)),
		chromedp.Click(chromedp.CSS("#save-webhook")))
	p.until("the URL's error beside it", `document.querySelector('#wh-url + p.field-error').textContent.startsWith('url')`)
	if got := p.attr("#wh-url", "aria-describedby"); got != "wh-url-error" {
		t.Errorf("the URL field is described by %q", got)
	}
	p.checked("the editor with an error")
	if _, list := s.do("GET", "/v1/webhooks", s.keyA, ""); len(items(list, "webhooks")) != 0 {
		t.Fatalf("a bad URL made a webhook: %v", list)
	}
	p.click(`input[data-event="CONTACT_CREATED"]`)

	// The conversation family as a whole, and one contact event.
	p.run("fill the form",
		chromedp.SetValue(chromedp.CSS("#wh-url"), r.URL+"/hook"),
		chromedp.SetValue(chromedp.CSS("#wh-name"), "Support bot"),
		chromedp.Click(chromedp.CSS(`input[data-pattern="CONVERSATION_*"]`)),
		chromedp.Click(chromedp.CSS(`input[data-event="CONTACT_CREATED"]`)),
	)
	p.until("family covers its events", `document.querySelector('input[data-event="CONVERSATION_CREATED"]').disabled`)
	p.checked("the editor")
	p.click("#save-webhook")
	p.until("the new secret", `document.querySelector('#secret-box').textContent.includes('whsec_')`)
	code, list := s.do("GET", "/v1/webhooks", s.keyA, "")
	hooks := items(list, "webhooks")
	if code != http.StatusOK || len(hooks) != 1 || fmt.Sprint(hooks[0]["events"]) != "[CONVERSATION_* CONTACT_CREATED]" || hooks[0]["displayName"] != "Support bot" {
		t.Fatalf("created webhook = %v", list)
	}
	id := hooks[0]["id"].(string)
	if hash := p.eval(`location.hash`); hash != "#/webhooks/"+id+"?created=1" {
		t.Errorf("after creating, the link is %q", hash)
	}

	// A delivery appears in the log by itself, linked to its page and its
	// workflow.
	ev := s.emit(s.keyA, `{"event": "conversation.created", "payload": {"conversation": {"id": "cnv_1"}}}`)
	s.wait(ev)
	row := `tr.delivery[data-event-id="` + ev + `"]`
	p.until("the delivery", `!!document.querySelector('`+row+`')`)
	if got := p.text(row + " td:nth-child(3)"); got != "delivered" {
		t.Errorf("delivery status = %q", got)
	}
	href := p.attr(row+" a.workflow", "href")
	if !strings.HasPrefix(href, "http://ui.test/namespaces/default/workflows/"+workflows.EventWorkflowID("wrk_a", ev)+"/") {
		t.Errorf("workflow link = %q", href)
	}

	// Send an example of an event it subscribes to.
	p.run("choose an example", chromedp.SetValue(chromedp.CSS("#example-event"), "conversation.closed"), chromedp.Click(chromedp.CSS("#send-example")))
	p.until("the example", `document.querySelector('#action-result').textContent.includes('Example conversation.closed delivered: 200')`)
	examples := 0
	for _, d := range r.deliveries() {
		if d.header.Get("X-TidySupport-Event") == "conversation.closed" && strings.Contains(string(d.body), "cnv_example1") {
			examples++
		}
	}
	if examples != 1 {
		t.Errorf("the receiver got %d examples of conversation.closed", examples)
	}
	p.until("the chart", `document.querySelectorAll('#chart g.day').length === 7`)
	p.checked("the webhook's page")
	p.screenshot("dashboard-webhook")

	// The delivery's page: its attempt's request and response.
	p.click(row + " a.open-delivery")
	p.run("the delivery's page", chromedp.WaitVisible(chromedp.CSS("#attempt-detail")))
	link := p.eval(`location.hash`)
	if want := "#/deliveries/" + s.deliveryOf(id, ev)["id"].(string); link != want {
		t.Errorf("the delivery's link is %q, want %q", link, want)
	}
	checkAttempt := func(where string) {
		t.Helper()
		p.until(where+": the request", `document.querySelector('#attempt-request-headers').textContent.includes('Webhook-Signature: v1,')`)
		if h := p.text("#attempt-request-headers"); !strings.Contains(h, "Webhook-Id: "+ev) || !strings.Contains(h, "X-Tidysupport-Attempt: 1") {
			t.Errorf("%s: request headers = %q", where, h)
		}
		if b := p.text("#attempt-request-body"); !strings.Contains(b, `"id": "cnv_1"`) || !strings.Contains(b, `"event": "conversation.created"`) {
			t.Errorf("%s: request body = %q", where, b)
		}
		if l := p.text("#attempt-response-line"); !strings.HasPrefix(l, "200 in ") {
			t.Errorf("%s: response line = %q", where, l)
		}
		if h := p.text("#attempt-response-headers"); !strings.Contains(h, "Content-Length: 0") {
			t.Errorf("%s: response headers = %q", where, h)
		}
	}
	checkAttempt("the delivery's page")
	p.checked("the delivery's page")
	p.screenshot("dashboard-delivery")

	// Its deep link, in a new tab: sign in there, land on the attempt.
	tab, closeTab := chromedp.NewContext(p.ctx)
	other := page{t, tab}
	other.run("open the link in a new tab", chromedp.Navigate(base+link+"/attempts/1"), chromedp.WaitVisible(chromedp.CSS("#signin")))
	other.signIn(s.keyA)
	other.run("the attempt", chromedp.WaitVisible(chromedp.CSS("#attempt-detail")))
	func() {
		p := other
		p.until("the new tab's attempt", `document.querySelector('#attempt-request-headers').textContent.includes('Webhook-Id: `+ev+`')`)
		if got := p.eval(`location.hash`); got != link+"/attempts/1" {
			t.Errorf("the new tab shows %q", got)
		}
	}()
	closeTab()

	// Reload keeps the page; back returns to the webhook.
	p.run("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#attempt-detail")))
	checkAttempt("after reload")
	p.run("back", chromedp.NavigateBack(), chromedp.WaitVisible(chromedp.CSS("#delivery-table")))
	if got := p.eval(`location.hash`); !strings.HasPrefix(got, "#/webhooks/"+id) {
		t.Errorf("back went to %q", got)
	}

	// Retry: the same event again, a second attempt in the log.
	p.until("the row again", `!!document.querySelector('`+row+` button.retry')`)
	p.click(row + " button.retry")
	p.until("the retry", `document.querySelector('#action-result').textContent.includes('Retried: delivered')`)
	if n := r.eventIDs()[ev]; n != 2 {
		t.Errorf("receiver got the event %d times after a retry, want 2", n)
	}
	p.until("two attempts", `document.querySelector('`+row+` td.attempt-count').textContent === '2'`)

	// Test event, then the chart: today's four attempts, a latency line,
	// and the table for screen readers.
	p.click("#test-webhook")
	p.until("the test", `document.querySelector('#action-result').textContent.includes('Test event delivered: 200')`)
	_, stats := s.do("GET", "/v1/webhooks/"+id+"/stats", s.keyA, "")
	days := objects(stats["days"])
	today := fmt.Sprint(days[len(days)-1]["delivered"])
	if today != "4" {
		t.Errorf("today's delivered attempts = %s (%v), want 4: the event, the example, the retry and the test", today, days[len(days)-1])
	}
	p.until("the chart's count", `[...document.querySelectorAll('#chart g.day')].pop().dataset.delivered === '`+today+`'`)
	if n := p.eval(`String(document.querySelectorAll('#chart circle.latency.p95').length)`); n != "1" {
		t.Errorf("the chart has %s p95 points, want today's", n)
	}
	if rows := p.eval(`String(document.querySelectorAll('#chart-table tbody tr').length)`); rows != "7" {
		t.Errorf("the chart's table has %s rows", rows)
	}
	if label := p.eval(`[...document.querySelectorAll('#chart text.axis-label')].map(t => t.textContent).join('|')`); label != "Deliveries|Latency (ms)" {
		t.Errorf("axis labels = %q", label)
	}

	// Pause and resume.
	p.click("#toggle-pause")
	p.until("paused", `document.querySelector('#detail-status').textContent === 'PAUSED'`)
	if _, w := s.do("GET", "/v1/webhooks/"+id, s.keyA, ""); w["status"] != "PAUSED" || w["pauseAcknowledgedAt"] == nil {
		t.Errorf("after pausing, webhook = %v", w)
	}
	if p.eval(`String(document.querySelector('#pause-banner').hidden)`) != "true" {
		t.Error("a pause asked for shows the banner")
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

	// A failing test shows as the last error; an event that fails for
	// good is recovered from the page once the endpoint answers again.
	failing.Store(true)
	p.click("#test-webhook")
	p.until("the failed test", `document.querySelector('#action-result').textContent.includes('Test event failed')`)
	lost := s.emit(s.keyA, `{"event": "conversation.closed", "payload": {}}`)
	if o := s.wait(lost).Webhooks[0]; o.Outcome != "failed" {
		t.Fatalf("outcome = %+v, want failed", o)
	}
	// The log filtered by status is a link of its own, kept on reload.
	p.eval(`(() => { const f = document.querySelector('#delivery-status'); f.value = 'failed'; f.dispatchEvent(new Event('change')); return ''; })()`)
	onlyFailed := `(() => { const rows = [...document.querySelectorAll('tr.delivery')];
		return rows.length >= 2 && rows.every(r => r.querySelector('td:nth-child(3)').textContent === 'failed') &&
			rows.some(r => r.dataset.eventId === '` + lost + `'); })()`
	p.until("only failed deliveries", onlyFailed)
	if got := p.eval(`location.hash`); got != "#/webhooks/"+id+"?status=failed" {
		t.Errorf("the filtered log's link is %q", got)
	}
	p.run("reload the filtered log", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#delivery-table")))
	p.until("still only failed deliveries", onlyFailed)
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
	// A retry from the page while the endpoint fails says so.
	p.run("the whole log", chromedp.Navigate(base+"#/webhooks/"+id), chromedp.WaitVisible(chromedp.CSS(row+" button.retry")))
	p.click(row + " button.retry")
	p.until("the failed retry", `document.querySelector('#action-result').textContent.includes('Retried: failed (endpoint answered 500')`)
	failing.Store(false)

	// Leaving a page cancels its requests: every signal the page gave
	// fetch is aborted on the way out.
	p.eval(`(() => { window.aborts = 0; const f = window.fetch; window.fetch = (u, o) => {
		if (o && o.signal) o.signal.addEventListener('abort', () => window.aborts++); return f(u, o); }; return ''; })()`)
	p.click("#refresh-deliveries")
	p.until("the refreshed log", `!!document.querySelector('`+row+`')`)

	// The event catalog: every family, examples, the operational one.
	p.click(`nav a[href="#/events"]`)
	p.until("the webhook page's requests cancelled", `window.aborts > 0`)
	p.run("the catalog", chromedp.WaitVisible(chromedp.CSS(`section.family[data-family="WEBHOOK_*"]`)))
	if ex := p.eval(`document.querySelector('details.event-type[data-event="message.received"] pre').textContent`); !strings.Contains(ex, `"conversationId"`) {
		t.Errorf("message.received's example = %q", ex)
	}
	p.checked("the event catalog")

	// An endpoint that answers 410 is paused automatically: the workspace
	// is told by webhook.paused and by a banner until acknowledged.
	gone := newReceiver(t, func(int) int { return http.StatusGone })
	goneID, _ := s.webhook(s.keyA, gone.URL+"/crm", "CONTACT_CREATED")
	ops := newReceiver(t, ok)
	s.webhook(s.keyA, ops.URL+"/ops", "webhook.*")
	s.wait(s.emit(s.keyA, `{"event": "contact.created", "payload": {"contact": {"id": "cnt_1"}}}`))
	eventually(t, "webhook.paused", func() bool { return len(pausedEvents(ops)) == 1 })
	p.click(`nav a[href="#/webhooks"]`)
	notice := `#pause-banner p.paused-notice[data-id="` + goneID + `"]`
	p.run("the banner", chromedp.WaitVisible(chromedp.CSS(notice)))
	p.checked("the list with a banner")
	if got := p.text(notice); !strings.Contains(got, "410 Gone") {
		t.Errorf("the banner says %q", got)
	}
	p.until("the list's last error", `(document.querySelector('#webhook-table tr[data-id="`+id+`"] td.error') || {}).textContent?.includes('500')`)
	p.screenshot("dashboard-webhooks")
	p.click(notice + " button.acknowledge")
	p.until("the banner gone", `document.querySelector('#pause-banner').hidden`)
	if _, w := s.do("GET", "/v1/webhooks/"+goneID, s.keyA, ""); w["pauseAcknowledgedAt"] == nil {
		t.Errorf("after acknowledging, webhook = %v", w)
	}
	p.run("reload the list", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#webhook-table")))
	p.until("the list", `!!document.querySelector('#webhook-table tr[data-id="`+goneID+`"]')`)
	if hidden := p.eval(`String(document.querySelector('#pause-banner').hidden)`); hidden != "true" {
		t.Error("the banner is back after acknowledging")
	}

	// From the keyboard alone: Tab to the webhook, its focus visible,
	// Enter opens it.
	target := `#webhook-table tr[data-id="` + id + `"] a.open`
	p.eval(`(() => { document.activeElement.blur(); return ""; })()`)
	for range 30 {
		if p.eval(`String(document.activeElement.matches('`+target+`'))`) == "true" {
			break
		}
		p.run("tab", chromedp.KeyEvent(kb.Tab))
	}
	if outline := p.eval(`document.activeElement.matches('` + target + `') ? getComputedStyle(document.activeElement).outlineStyle : 'not focused'`); outline == "none" || outline == "not focused" {
		t.Errorf("the webhook's link by keyboard: outline %q", outline)
	}
	p.run("enter", chromedp.KeyEvent(kb.Enter))

	// Edit: every event.
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
	p.run("the list", chromedp.WaitVisible(chromedp.CSS("#webhook-table")))
	eventually(t, "the delete", func() bool {
		code, _ := s.do("GET", "/v1/webhooks/"+id, s.keyA, "")
		return code == http.StatusNotFound
	})

	// An unknown link says so.
	p.run("an unknown link", chromedp.Navigate(base+"#/nowhere"), chromedp.WaitVisible(chromedp.CSS("#not-found")))

	// Sign out forgets the key.
	p.click("#sign-out")
	p.run("signed out", chromedp.WaitVisible(chromedp.CSS("#signin")))
	if stored := p.eval(`sessionStorage.getItem('tidyhooks.apiKey') || ''`); stored != "" {
		t.Errorf("the key is still stored after signing out")
	}
}
