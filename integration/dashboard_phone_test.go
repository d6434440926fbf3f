package integration_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
)

// fits reports whether the page scrolls sideways at the current width.
func (p page) fits(where string) {
	p.t.Helper()
	// A phone's layout viewport grows to fit what is too wide, so there
	// the page is compared with the screen; elsewhere with the window.
	if got := p.eval(`document.documentElement.scrollWidth + ' ' + (navigator.maxTouchPoints > 0 ? screen.width : innerWidth)`); func() bool {
		var scroll, width int
		_, _ = fmt.Sscan(got, &scroll, &width)
		return scroll > width
	}() {
		wide := p.eval(`[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > screen.width + 1 && !e.closest('.scroll'))
			.slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && e.className.baseVal === undefined ? '.' + e.className : '') + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ')`)
		p.t.Errorf("%s: the page is %s px wide (scroll width, then the screen's): it scrolls sideways; past the screen: %s", where, got, wide)
	}
}

// checked makes the checks every page gets at every size: no sideways
// scroll of the page, axe-core clean, and a screenshot kept as a test
// artifact (in test-artifacts/, which git ignores; TIDYHOOKS_TEST_ARTIFACTS
// names another folder).
func (p page) checked(name string) {
	p.t.Helper()
	p.fits(name)
	p.accessible(name)
	shot, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(90))
	if err != nil {
		p.t.Fatalf("screenshot of %s: %v", name, err)
	}
	dir := os.Getenv("TIDYHOOKS_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "test-artifacts")
	}
	dir = filepath.Join(dir, p.t.Name())
	width := p.eval(`String(innerWidth)`)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	file := strings.NewReplacer(" ", "-", "'", "", "/", "-").Replace(name) + "-" + width + ".jpg"
	if err := os.WriteFile(filepath.Join(dir, file), shot, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// At a phone's width (390 × 844) every view fits the screen: the tables
// scroll inside their own box, the chart scales down.
func TestDashboardFitsAPhone(t *testing.T) {
	s := newStack(t, stackOptions{eager: true})
	r := newReceiver(t, ok)
	long := r.URL + "/hooks/" + strings.Repeat("a-very-long-path-segment/", 6)
	id, _ := s.webhook(s.keyA, long, "*")
	for i := range 3 {
		s.wait(s.emit(s.keyA, fmt.Sprintf(`{"event": "conversation.created", "payload": {"conversation": {"id": "cnv_%d", "subject": %q}}}`, i, strings.Repeat("long subject ", 20))))
	}
	p := page{t, browser(t)}
	p.run("a phone", chromedp.Emulate(device.IPhone12Pro))
	p.run("open the dashboard", chromedp.Navigate(s.api.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#signin")))
	p.checked("sign in")
	p.signIn(s.keyA)
	p.run("webhook list", chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+id+`"] a.open`)))
	p.checked("the webhook list")
	p.click(`tr[data-id="` + id + `"] a.open`)
	p.until("its deliveries", `document.querySelectorAll('tr.delivery').length === 3`)
	p.checked("the webhook's page")
	p.click("tr.delivery a.open-delivery")
	p.run("a delivery", chromedp.WaitVisible(chromedp.CSS("#attempt-detail")))
	p.until("its request", `document.querySelector('#attempt-request-headers').textContent.includes('Webhook-Signature')`)
	p.checked("a delivery's page")
	p.run("back", chromedp.NavigateBack(), chromedp.WaitVisible(chromedp.CSS("#edit-webhook")))
	p.click("#edit-webhook")
	p.run("editor", chromedp.WaitVisible(chromedp.CSS("#webhook-form")), chromedp.Click(chromedp.CSS("#wh-controls summary")))
	p.checked("the editor")
	p.run("the catalog", chromedp.Navigate(s.api.URL+"/dashboard/#/events"), chromedp.WaitVisible(chromedp.CSS("section.family")))
	p.run("open an example", chromedp.Click(chromedp.CSS("details.event-type summary")))
	p.checked("the event catalog")
}
