package activities

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/tidysupport/tidyhooks/models"
)

// setEndpointHeaders puts a webhook's custom headers and its static
// authentication (Basic, bearer) on a delivery request. They are set
// before ours, and validation keeps them from naming any of ours.
func setEndpointHeaders(h http.Header, w models.Webhook) {
	for name, value := range w.Headers {
		h[name] = []string{value} // names are canonical already
	}
	if w.Auth == nil {
		return
	}
	switch w.Auth.Type {
	case models.AuthBasic:
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(w.Auth.Username+":"+w.Auth.Password)))
	case models.AuthBearer:
		h.Set("Authorization", "Bearer "+w.Auth.Token)
	}
}

// shownHeaders are the headers of a request to w as the delivery log shows
// them: the credentials of its auth and the values of its custom headers
// masked as the API shows them, the rest as sent.
func shownHeaders(h http.Header, w models.Webhook) map[string]string {
	out := flatHeaders(h)
	for name := range w.Headers {
		if v, ok := out[name]; ok {
			out[name] = models.Mask(v)
		}
	}
	if v, ok := out["Authorization"]; ok {
		scheme, _, _ := strings.Cut(v, " ")
		out["Authorization"] = scheme + " ••••"
	}
	return out
}

// flatHeaders is h with one value per name, repeated values joined as
// HTTP allows.
func flatHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for name, values := range h {
		out[name] = strings.Join(values, ", ")
	}
	return out
}

// mtlsClients are the HTTP clients of webhooks that authenticate with a
// client certificate: one per certificate and key, each with its own
// transport, so that a webhook's certificate is offered on its own
// connections only. A rotated certificate is a new key here: attempts
// under way finish on the old connections, the next use the new.
type mtlsClients struct {
	mu      sync.Mutex
	clients map[[sha256.Size]byte]*http.Client
}

// maxMTLSClients bounds the cached clients; past it the cache starts over
// (each client's idle connections close with it).
const maxMTLSClients = 1000

// clientFor returns the HTTP client for a delivery to w.
func (a *Activities) clientFor(w models.Webhook) (*http.Client, error) {
	if w.Auth == nil || w.Auth.Type != models.AuthMTLS {
		return a.client, nil
	}
	key := sha256.Sum256([]byte(w.Auth.Certificate + "\x00" + w.Auth.PrivateKey))
	m := a.mtls
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.clients[key]; ok {
		return c, nil
	}
	cert, err := w.Auth.ClientCertificate()
	if err != nil {
		return nil, err
	}
	if len(m.clients) >= maxMTLSClients {
		for k, c := range m.clients {
			c.CloseIdleConnections()
			delete(m.clients, k)
		}
	}
	transport := a.transport.Clone()
	transport.TLSClientConfig = a.tlsConfig()
	transport.TLSClientConfig.Certificates = []tls.Certificate{cert}
	c := *a.client
	c.Transport = transport
	m.clients[key] = &c
	return &c, nil
}

// tlsConfig is the TLS configuration of every delivery connection.
func (a *Activities) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: a.cfg.RootCAs, MinVersion: tls.VersionTLS12}
}

// throttleHorizon is how far ahead a throttled delivery may reserve its
// turn and wait for it in the activity: at most two seconds, and at most
// twenty turns of the webhook, so that few attempts wait at once.
func throttleHorizon(t models.Throttle) time.Duration {
	if t.MaxPerSecond == 0 {
		return 0
	}
	return min(2*time.Second, time.Duration(20/t.MaxPerSecond*float64(time.Second)))
}

// throttle waits for a scheduled delivery's turn under its webhook's
// throttle, shared by every worker through the database. It returns what
// ends the delivery's lease (called once the request is done; more calls
// do nothing), or the error of a delivery whose turn is further off: it
// is retried then, without using up a retry of the schedule. Manual
// retries, recovers and tests are one attempt each and are not throttled.
func (a *Activities) throttle(ctx context.Context, w models.Webhook, trigger models.AttemptTrigger, attempt int32) (release func(), _ error) {
	if w.Throttle == nil || trigger != models.TriggerScheduled {
		return func() {}, nil
	}
	r, err := a.store.ReserveDelivery(ctx, w.ID, *w.Throttle, a.now(), throttleHorizon(*w.Throttle), AttemptLeaseFor)
	if err != nil {
		return nil, storeUnavailable(attempt, err)
	}
	if r.RetryAfter > 0 {
		wait := time.Duration(float64(r.RetryAfter) * (0.8 + 0.4*a.jitter()))
		return nil, temporal.NewApplicationErrorWithOptions("the webhook's throttle is reached; waiting its turn", ErrTypeThrottled,
			// Flow control, not a failure: benign, so the SDK logs it at DEBUG.
			temporal.ApplicationErrorOptions{NextRetryDelay: max(wait, 50*time.Millisecond), Category: temporal.ApplicationErrorCategoryBenign})
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if r.Lease == "" {
				return
			}
			if err := a.store.ReleaseLease(context.WithoutCancel(ctx), r.Lease); err != nil {
				activity.GetLogger(ctx).Warn("release throttle lease; it expires by itself", "webhook_id", w.ID, "error", err)
			}
		})
	}
	if r.Wait > 0 {
		t := time.NewTimer(r.Wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			release()
			return nil, storeUnavailable(attempt, ctx.Err())
		}
	}
	return release, nil
}

// AttemptLeaseFor is how long a throttled delivery's lease outlives its
// turn if its worker is lost: as long as an attempt may run.
const AttemptLeaseFor = 30 * time.Second
