package activities

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"sync"

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
