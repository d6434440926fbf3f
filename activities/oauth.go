package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
// and a hash of its OAuth2 settings, so that a rotated client secret never
// reuses a token fetched with the old one.
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
	store  TokenStore
	client *http.Client
	now    func() time.Time
	group  singleflight.Group
	mu     sync.Mutex
	cached map[string]cachedToken // by webhook id
}

type cachedToken struct {
	settings, token string
	usableUntil     time.Time
}

// settingsHash names an OAuth2 configuration: any change to it is a new
// token.
func settingsHash(a *models.EndpointAuth) string {
	h := sha256.New()
	for _, part := range []string{a.TokenURL, a.ClientID, a.ClientSecret, strings.Join(a.Scopes, " "), a.Audience} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// token returns a usable access token for w. stale, when not empty, is a
// token the endpoint refused: it is dropped and a new one fetched.
func (o *oauthTokens) token(ctx context.Context, w models.Webhook, stale string) (string, error) {
	settings := settingsHash(w.Auth)
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

// fetch asks the token endpoint for a token.
func (o *oauthTokens) fetch(ctx context.Context, a *models.EndpointAuth) (string, time.Time, error) {
	cfg := clientcredentials.Config{ClientID: a.ClientID, ClientSecret: a.ClientSecret, TokenURL: a.TokenURL, Scopes: a.Scopes}
	if a.Audience != "" {
		cfg.EndpointParams = url.Values{"audience": {a.Audience}}
	}
	tok, err := cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, o.client))
	if err != nil {
		return "", time.Time{}, describeTokenError(a.TokenURL, err)
	}
	if tok.AccessToken == "" {
		return "", time.Time{}, fmt.Errorf("the OAuth2 token endpoint %s answered no access token", a.TokenURL)
	}
	expires := tok.Expiry
	if expires.IsZero() {
		expires = o.now().Add(tokenDefaultLife)
	}
	return tok.AccessToken, expires, nil
}

// describeTokenError says why no token was had, without the client
// secret (never part of it) and without the endpoint's whole answer.
func describeTokenError(tokenURL string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		msg := fmt.Sprintf("the OAuth2 token endpoint %s refused the client credentials: %d %s", tokenURL, re.Response.StatusCode, http.StatusText(re.Response.StatusCode))
		if re.ErrorCode != "" {
			msg += " (" + re.ErrorCode + ")"
		}
		return &deliveryError{msg: msg, cause: err}
	}
	return &deliveryError{msg: fmt.Sprintf("the OAuth2 token endpoint %s could not be reached: %v", tokenURL, unwrapURLError(err)), cause: err}
}

// unwrapURLError drops the method and URL net/http puts before a
// transport error.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
