package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"

	"github.com/tidysupport/tidyhooks/models"
)

// TokenStore shares OAuth2 tokens between workers: a token one worker
// fetched is used by all until shortly before it expires. Keyed by webhook
// and its OAuth2 settings (the store keeps a keyed hash of them, never the
// client secret), so that a rotated client secret never reuses a token
// fetched with the old one.
type TokenStore interface {
	OAuthToken(ctx context.Context, webhookID, settings string, now time.Time) (token string, expires time.Time, ok bool, err error)
	SaveOAuthToken(ctx context.Context, webhookID, settings, token string, expires time.Time) error
	DropOAuthToken(ctx context.Context, webhookID, settings, token string) error
}

// Token lifetimes: a token is used until tokenMargin before it expires,
// and one that names no expiry for tokenDefaultLife.
const (
	tokenMargin      = 30 * time.Second
	tokenDefaultLife = time.Hour
)

// oauthTokens fetches webhooks' OAuth2 client-credentials tokens through
// the delivery client (the destination guard applies to the token URL as
// to deliveries), keeps them in memory and in the TokenStore, and fetches
// each at most once at a time per worker.
type oauthTokens struct {
	store     TokenStore
	client    *http.Client
	userAgent string
	timeout   time.Duration // per request, as a delivery's
	now       func() time.Time
	group     singleflight.Group
	mu        sync.Mutex
	cached    map[string]cachedToken // by webhook id
	// styles is how each token endpoint (and client) took the client
	// credentials, once learned: x/oauth2's detection tries the header
	// and then the form on every new Config, each with the request
	// timeout, so a hanging endpoint held an attempt twice as long.
	styles map[string]oauth2.AuthStyle
}

type cachedToken struct {
	settings, token string
	usableUntil     time.Time
}

// settingsOf names an OAuth2 configuration: any change to it is a new
// token. It holds the client secret: the store keeps only a keyed hash
// of it.
func settingsOf(a *models.EndpointAuth) string {
	return strings.Join([]string{a.TokenURL, a.ClientID, a.ClientSecret, strings.Join(a.Scopes, " "), a.Audience}, "\x00")
}

// token returns a usable access token for w. stale, when not empty, is a
// token the endpoint refused: it is dropped and a new one fetched.
func (o *oauthTokens) token(ctx context.Context, w models.Webhook, stale string) (string, error) {
	settings := settingsOf(w.Auth)
	now := o.now()
	o.mu.Lock()
	c, ok := o.cached[w.ID]
	o.mu.Unlock()
	if ok && c.settings == settings && c.token != stale && now.Before(c.usableUntil) {
		return c.token, nil
	}
	v, err, _ := o.group.Do(w.ID+"\x00"+settings+"\x00"+stale, func() (any, error) {
		if stale != "" {
			if err := o.store.DropOAuthToken(ctx, w.ID, settings, stale); err != nil {
				return "", err
			}
		}
		// Another worker's token, unless it is the one refused.
		if token, expires, ok, err := o.store.OAuthToken(ctx, w.ID, settings, now); err != nil {
			return "", err
		} else if ok && token != stale && now.Before(expires.Add(-tokenMargin)) {
			o.keep(w.ID, cachedToken{settings: settings, token: token, usableUntil: expires.Add(-tokenMargin)})
			return token, nil
		}
		token, expires, err := o.fetch(ctx, w.Auth)
		if err != nil {
			return "", err
		}
		o.keep(w.ID, cachedToken{settings: settings, token: token, usableUntil: expires.Add(-tokenMargin)})
		// Shared best effort: a worker that cannot save it still uses it.
		_ = o.store.SaveOAuthToken(ctx, w.ID, settings, token, expires)
		return token, nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

func (o *oauthTokens) keep(webhookID string, c cachedToken) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.cached) > 10_000 {
		clear(o.cached)
	}
	o.cached[webhookID] = c
}

// fetch asks the token endpoint for a token: with the client credentials
// in the way the endpoint took them before (the first time, in a Basic
// header), and if the endpoint refuses that, the other way.
func (o *oauthTokens) fetch(ctx context.Context, a *models.EndpointAuth) (string, time.Time, error) {
	styleKey := a.TokenURL + "\x00" + a.ClientID
	o.mu.Lock()
	style, known := o.styles[styleKey]
	o.mu.Unlock()
	// The other way is tried only when the endpoint refuses the first
	// (400 or 401): an endpoint that changed how it takes them is
	// learned again, and one that does not answer is asked once.
	tries := []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams}
	if known && style == oauth2.AuthStyleInParams {
		tries = []oauth2.AuthStyle{oauth2.AuthStyleInParams, oauth2.AuthStyleInHeader}
	}
	client := &http.Client{Transport: userAgentTransport{next: o.client.Transport, userAgent: o.userAgent},
		CheckRedirect: o.client.CheckRedirect, Timeout: o.client.Timeout}
	var err error
	for _, style := range tries {
		cfg := clientcredentials.Config{ClientID: a.ClientID, ClientSecret: a.ClientSecret, TokenURL: a.TokenURL, Scopes: a.Scopes, AuthStyle: style}
		if a.Audience != "" {
			cfg.EndpointParams = url.Values{"audience": {a.Audience}}
		}
		var tok *oauth2.Token
		tok, err = cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, client))
		if err == nil {
			o.mu.Lock()
			o.styles[styleKey] = style
			o.mu.Unlock()
			if tok.AccessToken == "" {
				return "", time.Time{}, fmt.Errorf("the OAuth2 token endpoint %s answered no access token", a.TokenURL)
			}
			expires := tok.Expiry
			if expires.IsZero() {
				expires = o.now().Add(tokenDefaultLife)
			}
			return tok.AccessToken, expires, nil
		}
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response == nil || (re.Response.StatusCode != http.StatusBadRequest && re.Response.StatusCode != http.StatusUnauthorized) {
			break // not a refusal of how the credentials came: trying the other way would not help
		}
	}
	return "", time.Time{}, describeTokenError(a.TokenURL, err, o.timeout)
}

// userAgentTransport names the product in token requests, as in
// deliveries (x/oauth2 sends Go's default).
type userAgentTransport struct {
	next      http.RoundTripper
	userAgent string
}

func (t userAgentTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", t.userAgent)
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(r)
}

// describeTokenError says why no token was had, without the client
// secret (never part of it), without the endpoint's whole answer and,
// for an endpoint not reached, classified as a delivery's transport error
// is: never the resolver, nor the address a name resolved to.
func describeTokenError(tokenURL string, err error, timeout time.Duration) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		msg := fmt.Sprintf("the OAuth2 token endpoint %s refused the client credentials: %d %s", tokenURL, re.Response.StatusCode, http.StatusText(re.Response.StatusCode))
		if re.ErrorCode != "" {
			msg += " (" + re.ErrorCode + ")"
		}
		return &deliveryError{msg: msg, cause: err}
	}
	return &deliveryError{msg: fmt.Sprintf("the OAuth2 token endpoint %s could not be reached: %s", tokenURL, describeTransportError(err, timeout).Error()), cause: err}
}
