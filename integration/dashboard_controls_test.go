package integration_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// choose sets a select's value as a person would, firing its change event.
func (p page) choose(sel, value string) {
	p.t.Helper()
	p.eval(`(() => { const s = document.querySelector('` + sel + `'); s.value = '` + value + `'; s.dispatchEvent(new Event('change')); return s.value; })()`)
}

// The editor's delivery controls: create a webhook with headers, Basic
// auth, a throttle, a filter and ordering; what arrives follows them; an
// edit that leaves the masked headers and the auth alone keeps them.
func TestDashboardDeliveryControls(t *testing.T) {
	s := newStack(t, stackOptions{eager: true})
	r := newReceiver(t, ok)
	p := page{t, browser(t)}
	p.signedIn(s.api.URL, s.keyA)
	p.run("webhook list", chromedp.WaitVisible(chromedp.CSS("#no-webhooks")))

	p.click("#new-webhook")
	p.run("fill the form",
		chromedp.WaitVisible(chromedp.CSS("#webhook-form")),
		chromedp.SetValue(chromedp.CSS("#wh-url"), r.URL+"/controls"),
		chromedp.Click(chromedp.CSS("#ev-all")),
		chromedp.Click(chromedp.CSS("#wh-controls summary")),
		chromedp.SetValue(chromedp.CSS("#wh-headers"), "X-Api-Key: k-0123456789abcdef\nX-Tenant: acme"),
	)
	p.choose("#wh-auth-type", "basic")
	p.run("fill the controls",
		chromedp.WaitVisible(chromedp.CSS("#wh-auth-username")),
		chromedp.SetValue(chromedp.CSS("#wh-auth-username"), "tidy"),
		chromedp.SetValue(chromedp.CSS("#wh-auth-password"), "s3cret-password-1"),
		chromedp.SetValue(chromedp.CSS("#wh-max-per-second"), "5"),
		chromedp.SetValue(chromedp.CSS("#wh-max-in-flight"), "2"),
		chromedp.SetValue(chromedp.CSS("#wh-filter"), `{"contact.vip": true}`),
	)
	p.choose("#wh-ordering", "conversation")
	p.click("#save-webhook")
	p.until("the new secret", `document.querySelector('#secret-box').textContent.includes('whsec_')`)

	_, list := s.do("GET", "/v1/webhooks", s.keyA, "")
	hooks := items(list, "webhooks")
	if len(hooks) != 1 {
		t.Fatalf("webhooks = %v", list)
	}
	w := hooks[0]
	headers, _ := w["headers"].(map[string]any)
	auth, _ := w["auth"].(map[string]any)
	throttle, _ := w["throttle"].(map[string]any)
	filter, _ := w["filter"].(map[string]any)
	if headers["X-Api-Key"] != "••••cdef" || headers["X-Tenant"] != "••••" || auth["type"] != "basic" || auth["username"] != "tidy" ||
		throttle["maxPerSecond"] != 5.0 || throttle["maxInFlight"] != 2.0 || filter["contact.vip"] != true || w["ordering"] != "conversation" {
		t.Fatalf("created from the dashboard: %v", w)
	}

	vip := s.emit(s.keyA, `{"event": "contact.created", "payload": {"contact": {"id": "c1", "vip": true}}}`)
	plain := s.emit(s.keyA, `{"event": "contact.created", "payload": {"contact": {"id": "c2", "vip": false}}}`)
	s.wait(vip)
	s.wait(plain)
	got := r.deliveries()
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("tidy:s3cret-password-1"))
	if len(got) != 1 || got[0].header.Get("webhook-id") != vip || got[0].header.Get("X-Api-Key") != "k-0123456789abcdef" || got[0].header.Get("Authorization") != wantAuth {
		t.Fatalf("receiver got %d requests: %v", len(got), got)
	}

	// Edit: the masked headers and the auth are left as they are; the
	// throttle is cleared and ordering turned off.
	p.run("detail", chromedp.WaitVisible(chromedp.CSS("#edit-webhook")))
	p.click("#edit-webhook")
	p.run("editor", chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
	if v := p.eval(`document.querySelector('#wh-headers').value`); !strings.Contains(v, "X-Api-Key: ••••cdef") {
		t.Errorf("headers in the editor: %q", v)
	}
	if v := p.eval(`document.querySelector('#wh-auth-username').value + '/' + document.querySelector('#wh-auth-password').value`); v != "tidy/" {
		t.Errorf("auth in the editor: %q (the password must not be shown)", v)
	}
	p.run("change the controls",
		chromedp.SetValue(chromedp.CSS("#wh-max-per-second"), ""),
		chromedp.SetValue(chromedp.CSS("#wh-max-in-flight"), ""),
		chromedp.SetValue(chromedp.CSS("#wh-headers"), "X-Api-Key: ••••cdef\nX-Region: eu"),
	)
	p.choose("#wh-ordering", "none")
	p.click("#save-webhook")
	p.run("detail again", chromedp.WaitVisible(chromedp.CSS("#edit-webhook")))
	code, after := s.do("GET", "/v1/webhooks/"+w["id"].(string), s.keyA, "")
	headers, _ = after["headers"].(map[string]any)
	auth, _ = after["auth"].(map[string]any)
	if code != http.StatusOK || after["throttle"] != nil || after["ordering"] != "none" || len(headers) != 2 || headers["X-Region"] != "••••" ||
		headers["X-Api-Key"] != "••••cdef" || auth["type"] != "basic" {
		t.Fatalf("after the edit: %v", after)
	}
	s.wait(s.emit(s.keyA, `{"event": "contact.created", "payload": {"contact": {"id": "c3", "vip": true}}}`))
	got = r.deliveries()
	if last := got[len(got)-1]; len(got) != 2 || last.header.Get("X-Api-Key") != "k-0123456789abcdef" || last.header.Get("X-Region") != "eu" || last.header.Get("X-Tenant") != "" || last.header.Get("Authorization") != wantAuth {
		t.Errorf("after the edit the receiver got %d requests, the last with %v", len(got), last.header)
	}
	// A bad filter is refused on the page, naming it.
	p.click("#edit-webhook")
	p.run("bad filter", chromedp.WaitVisible(chromedp.CSS("#webhook-form")), chromedp.SetValue(chromedp.CSS("#wh-filter"), `{"contact.vip": {"in": []}}`))
	p.click("#save-webhook")
	p.until("the filter error", `document.querySelector('#form-error').textContent.includes('filter.contact.vip.in')`)
}
