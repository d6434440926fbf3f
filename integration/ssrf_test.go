package integration_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"go.temporal.io/api/workflowservice/v1"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/tidysupport/tidyhooks/netguard"
	"github.com/tidysupport/tidyhooks/workflows"
)

// dnsServer answers every A and AAAA question with the addresses the test
// gives it: a resolver the test controls.
func dnsServer(t *testing.T, answers map[string]netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
			if ip, ok := answers[strings.TrimSuffix(q.Name.String(), ".")]; ok {
				switch {
				case q.Type == dnsmessage.TypeA && ip.Is4():
					_ = b.AResource(rh, dnsmessage.AResource{A: ip.As4()})
				case q.Type == dnsmessage.TypeAAAA && ip.Is6():
					_ = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: ip.As16()})
				}
			}
			out, err := b.Finish()
			if err == nil {
				_, _ = pc.WriteTo(out, addr)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// countingListener counts the connections made to it.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func TestDeliveriesToNonPublicAddressesAreRefused(t *testing.T) {
	// A real endpoint on loopback that must never be reached.
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &countingListener{Listener: inner}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	_, port, _ := net.SplitHostPort(inner.Addr().String())

	resolver := dnsServer(t, map[string]netip.Addr{
		"loopback.test": netip.MustParseAddr("127.0.0.1"),
		"metadata.test": netip.MustParseAddr("169.254.169.254"),
		"private.test":  netip.MustParseAddr("10.1.2.3"),
		"cgnat.test":    netip.MustParseAddr("100.64.0.7"),
		"ula.test":      netip.MustParseAddr("fd00::1"),
		"mapped.test":   netip.MustParseAddr("::ffff:127.0.0.1"),
	})
	s := newStack(t, stackOptions{network: &netguard.Policy{Resolver: resolver}})

	urls := map[string]string{
		"loopback literal":          "http://127.0.0.1:" + port + "/",
		"loopback IPv6 literal":     "http://[::1]:" + port + "/",
		"IPv4-mapped literal":       "http://[::ffff:127.0.0.1]:" + port + "/",
		"cloud metadata literal":    "http://169.254.169.254/latest/meta-data/",
		"RFC 1918 literal":          "http://192.168.0.10/",
		"unspecified literal":       "http://0.0.0.0:" + port + "/",
		"loopback by DNS name":      "http://loopback.test:" + port + "/",
		"IPv4-mapped by DNS name":   "http://mapped.test:" + port + "/",
		"cloud metadata by name":    "http://metadata.test/",
		"RFC 1918 by DNS name":      "http://private.test/",
		"carrier-grade NAT by name": "http://cgnat.test/",
		"unique local IPv6 by name": "http://ula.test/",
	}
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			s.webhook(s.keyA, url, "*")
		})
	}
	res := s.wait(s.emit(s.keyA, `{"event": "contact.created", "payload": {}}`))
	if len(res.Webhooks) != len(urls) {
		t.Fatalf("%d outcomes, want %d", len(res.Webhooks), len(urls))
	}
	for _, o := range res.Webhooks {
		if o.Outcome != workflows.OutcomeFailed || o.Attempts != 1 || !strings.HasPrefix(o.Error, "the address is not allowed: ") {
			t.Errorf("webhook %s: %s after %d attempts (%s), want failed at once as not allowed", o.WebhookID, o.Outcome, o.Attempts, o.Error)
		}
		if internal.MatchString(o.Error) {
			t.Errorf("webhook %s: error %q names an internal address", o.WebhookID, o.Error)
		}
	}
	if n := l.n.Load(); n != 0 {
		t.Errorf("the loopback endpoint got %d connections, want none", n)
	}
	// The Temporal UI finds the event's workflow among those that failed
	// to deliver to any of these webhooks.
	for _, o := range res.Webhooks[:1] {
		eventually(t, "TidyFailedWebhooks to list "+o.WebhookID, func() bool {
			list, err := s.client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: "default", Query: fmt.Sprintf("TidyFailedWebhooks = %q", o.WebhookID),
			})
			return err == nil && len(list.Executions) == 1
		})
	}
	// The webhook's last error says why.
	page, _ := s.store.ListWebhooks(context.Background(), "wrk_a", "", 100)
	for _, w := range page.Items {
		if !strings.Contains(w.LastErrorMessage, "not allowed") || internal.MatchString(w.LastErrorMessage) {
			t.Errorf("webhook %s lastErrorMessage = %q, want the reason without an address", w.URL, w.LastErrorMessage)
		}
	}
}

// internal matches what a customer-facing error must not carry: an IP
// address, a resolver or a host name of the test's DNS.
var internal = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+|[0-9a-f]*::[0-9a-f]|\.test|lookup|dial`)

// Errors a customer sees are classified; the raw detail, which names
// resolvers and addresses, stays in the operator's log.
func TestDeliveryErrorsAreClassified(t *testing.T) {
	resolver := dnsServer(t, map[string]netip.Addr{"private.test": netip.MustParseAddr("10.1.2.3")})
	s := newStack(t, stackOptions{network: &netguard.Policy{Resolver: resolver, AllowLoopback: true}})
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	_ = closed.Close()
	want := map[string]string{
		s.hook(t, "http://missing.test/"):      "could not resolve the host",
		s.hook(t, "http://private.test/"):      "the address is not allowed: private (RFC 1918)",
		s.hook(t, "http://"+refused+"/"):       "connection refused",
		s.hook(t, "http://[64:ff9b::7f00:1]/"): "the address is not allowed: loopback through a translator",
	}
	for id, w := range want {
		code, out := s.do("POST", "/v1/webhooks/"+id+"/test", s.keyA, "")
		if code != http.StatusOK {
			t.Fatalf("test %s: %d %v", id, code, out)
		}
		got := fmt.Sprint(out["error"])
		if got != w || internal.MatchString(got) {
			t.Errorf("test of %s: error = %q, want %q", id, got, w)
		}
		_, hook := s.do("GET", "/v1/webhooks/"+id, s.keyA, "")
		if msg := fmt.Sprint(hook["lastErrorMessage"]); msg != w {
			t.Errorf("lastErrorMessage of %s = %q, want %q", id, msg, w)
		}
	}
}

// hook creates a webhook of wrk_a for every event and returns its id.
func (s *stack) hook(t *testing.T, url string) string {
	t.Helper()
	id, _ := s.webhook(s.keyA, url, "*")
	return id
}

func TestAllowedCIDRGetsThrough(t *testing.T) {
	resolver := dnsServer(t, map[string]netip.Addr{"internal.test": netip.MustParseAddr("127.0.0.1")})
	s := newStack(t, stackOptions{network: &netguard.Policy{Resolver: resolver, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	r := newReceiver(t, ok)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(r.URL, "http://"))
	s.webhook(s.keyA, "http://internal.test:"+port+"/hook", "*")
	id := s.emit(s.keyA, `{"event": "contact.created", "payload": {}}`)
	if res := s.wait(id); res.Webhooks[0].Outcome != workflows.OutcomeDelivered {
		t.Errorf("outcome = %+v, want delivered to the allowed CIDR", res.Webhooks[0])
	}
	if got := r.eventIDs(); got[id] != 1 {
		t.Errorf("receiver got %v", got)
	}
}
