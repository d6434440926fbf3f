package integration_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tidysupport/tidyhooks/models"
)

// frameHost is a page of the platform on another loopback origin that
// frames a portal link and records what the portal tells it.
func frameHost(t *testing.T) (*httptest.Server, *string) {
	t.Helper()
	link := new(string)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Settings</title></head>
<body style="margin:0;font-family:sans-serif"><p style="margin:8px">Acme Support · Settings · Webhooks</p>
<iframe id="portal" title="Webhooks" src="%s" style="width:100%%;height:760px;border:0"></iframe>
<script>window.messages = []; addEventListener('message', (e) => window.messages.push(e.origin + ' ' + e.data.type));</script>
</body></html>`, *link)
	}))
	t.Cleanup(srv.Close)
	return srv, link
}

// frame is the host page's frame of the portal, for queries inside it
// (chromedp.FromNode).
func (p page) frame() chromedp.QueryOption {
	p.t.Helper()
	frames, err := chromedp.Run(p.ctx, chromedp.Nodes(chromedp.CSS("iframe#portal")))
	if err != nil || len(frames) != 1 {
		p.t.Fatalf("the portal's frame: %v", err)
	}
	return chromedp.FromNode(frames[0])
}

// The portal, framed by the platform's page on another origin: opened by a
// one-time link, themed, no header of its own, a link back; it manages the
// workspace's webhooks and nothing of another workspace's; read-only
// hides every change; a page not in frame-ancestors cannot frame it.
func TestPortalEmbedded(t *testing.T) {
	host, link := frameHost(t)
	stranger, strangerLink := frameHost(t)
	theme := &models.PortalTheme{Name: "Acme", Accent: "#7a1fa2", Background: "#ffffff"}
	s := newStack(t, stackOptions{eager: true, portalOrigins: []string{host.URL}, portalTheme: theme})
	platform := s.newKey("", models.ScopePortal)
	r := newReceiver(t, ok)
	otherHook, _ := s.webhook(s.keyB, r.URL+"/b", "*")
	portalLink := func(body string) string {
		code, out := s.do("POST", "/v1/portal-sessions", platform, body)
		if code != http.StatusCreated {
			t.Fatalf("portal link: %d %v", code, out)
		}
		return out["url"].(string)
	}
	*link = portalLink(`{"workspaceId": "wrk_a", "returnUrl": "` + host.URL + `/settings"}`)

	p := page{t, browser(t)}
	p.run("the platform's page", chromedp.Navigate(host.URL+"/settings"), chromedp.WaitVisible(chromedp.CSS("iframe#portal")))
	in := p.frame()
	p.run("the portal's list", chromedp.WaitVisible(chromedp.CSS("#no-webhooks"), in))
	p.until("the portal says it is ready", `window.messages.includes('`+s.api.URL+` tidyhooks:ready')`)
	p.until("and its height", `window.messages.includes('`+s.api.URL+` tidyhooks:resize')`)
	p.run("the portal's chrome: a link back, no header of its own", chromedp.WaitVisible(chromedp.CSS("#portal-back"), in), chromedp.WaitNotVisible(chromedp.CSS("#brand-name"), in))
	if back, err := chromedp.Run(p.ctx, chromedp.AttributeValue(chromedp.CSS("#portal-back"), "href", in)); err != nil || back.Value != host.URL+"/settings" {
		t.Errorf("the link back = %v (%v)", back, err)
	}
	styles, err := chromedp.Run(p.ctx, chromedp.ComputedStyle(chromedp.CSS("#new-webhook"), in))
	if err != nil {
		t.Fatal(err)
	}
	background := ""
	for _, st := range styles {
		if st.Name == "background-color" {
			background = st.Value
		}
	}
	if background != "rgb(122, 31, 162)" {
		t.Errorf("the theme's accent is not used: the button's background-color is %q", background)
	}

	// Manage a webhook inside the frame.
	p.run("create a webhook in the portal",
		chromedp.Click(chromedp.CSS("#new-webhook"), in),
		chromedp.WaitVisible(chromedp.CSS("#webhook-form"), in),
		chromedp.SetValue(chromedp.CSS("#wh-url"), r.URL+"/portal", in),
		chromedp.Click(chromedp.CSS(`input[data-pattern="CONVERSATION_*"]`), in),
		chromedp.Click(chromedp.CSS("#save-webhook"), in),
		chromedp.WaitVisible(chromedp.CSS("#detail-name"), in))
	_, list := s.do("GET", "/v1/webhooks", s.keyA, "")
	if hooks := items(list, "webhooks"); len(hooks) != 1 || hooks[0]["url"] != r.URL+"/portal" {
		t.Fatalf("after creating in the portal: %v", list)
	}
	p.run("back to the list", chromedp.Click(chromedp.CSS("#back"), in), chromedp.WaitVisible(chromedp.CSS("#webhook-table a.open"), in))
	p.eval(`(() => { scrollTo(0, 0); return ''; })()`)
	p.screenshot("portal-embedded")

	// Another workspace's webhook is not found from the portal.
	p.eval(`(() => { document.getElementById('portal').src = '` + s.api.URL + `/dashboard/#/webhooks/` + otherHook + `'; return ''; })()`)
	p.run("another workspace's webhook", chromedp.WaitVisible(chromedp.CSS("#action-result.error"), in))
	if msg, _ := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS("#action-result"), in)); msg != "not found" {
		t.Errorf("another workspace's webhook in the portal: %q", msg)
	}

	// Read-only: nothing that changes anything is offered.
	*link = portalLink(`{"workspaceId": "wrk_a", "readOnly": true, "returnUrl": "` + host.URL + `/settings"}`)
	p.run("a read-only portal", chromedp.Navigate(host.URL+"/settings?ro"), chromedp.WaitVisible(chromedp.CSS("iframe#portal")))
	in = p.frame()
	p.run("the read-only list",
		chromedp.WaitVisible(chromedp.CSS("#webhook-table a.open"), in),
		chromedp.WaitNotVisible(chromedp.CSS("#new-webhook"), in),
		chromedp.Click(chromedp.CSS("#webhook-table a.open"), in),
		chromedp.WaitVisible(chromedp.CSS("#detail-name"), in),
		chromedp.WaitNotVisible(chromedp.CSS("#delete-webhook"), in),
		chromedp.WaitNotVisible(chromedp.CSS("#test-webhook"), in),
		chromedp.WaitNotVisible(chromedp.CSS("#edit-webhook"), in))
	// Signing out ends the session: the page says so and links back.
	p.run("sign out of the portal", chromedp.Click(chromedp.CSS("#sign-out"), in), chromedp.WaitVisible(chromedp.CSS("#portal-ended"), in))
	if back, err := chromedp.Run(p.ctx, chromedp.AttributeValue(chromedp.CSS("#ended-back"), "href", in)); err != nil || back.Value != host.URL+"/settings" {
		t.Errorf("the ended page's link back = %v (%v)", back, err)
	}

	// A page whose origin frame-ancestors does not list is refused the
	// frame: the portal never loads there.
	*strangerLink = portalLink(`{"workspaceId": "wrk_a"}`)
	p.run("a stranger's page", chromedp.Navigate(stranger.URL+"/"), chromedp.WaitVisible(chromedp.CSS("iframe#portal")))
	time.Sleep(3 * time.Second)
	if got := p.eval(`window.messages.join(',')`); strings.Contains(got, "tidyhooks:") {
		t.Errorf("the portal loaded in a page frame-ancestors does not list: %s", got)
	}
}
