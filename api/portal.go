package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tidysupport/tidyhooks/models"
)

// The portal's cookies: the session (HttpOnly) and its CSRF token, which
// the page reads and sends back as X-CSRF-Token on every change (the
// server checks it against the session's hash of it).
const (
	portalCookie     = "tidyhooks_portal"
	portalCSRFCookie = "tidyhooks_portal_csrf"
	csrfHeader       = "X-CSRF-Token"
	portalContext    = "tidyhooks.portal"
)

type portalSessionRequest struct {
	WorkspaceID *string `json:"workspaceId"`
	TTL         *string `json:"ttl"`
	ReadOnly    bool    `json:"readOnly"`
	ReturnURL   *string `json:"returnUrl"`
}

// createPortalSession is POST /v1/portal-sessions: a one-time link that
// opens the dashboard signed in to one workspace. A platform key with the
// portal:write scope opens any workspace; a workspace's api_user key its
// own (another is not found).
func (s *Server) createPortalSession(c *gin.Context) {
	key := apiKey(c)
	if _, inPortal := c.Get(portalContext); inPortal {
		s.fail(c, fmt.Errorf("%w: a portal session cannot open another; use an API key", models.ErrForbidden))
		return
	}
	platform := key.WorkspaceID == "" && key.Has(models.ScopePortal)
	if !platform && !(key.WorkspaceID != "" && key.Has(models.ScopeAPIUser)) {
		s.fail(c, fmt.Errorf("%w: this route needs a platform key with %s or a workspace key with %s", models.ErrForbidden, models.ScopePortal, models.ScopeAPIUser))
		return
	}
	var req portalSessionRequest
	if err := decode(c, 4<<10, &req); err != nil {
		s.fail(c, err)
		return
	}
	g := models.PortalGrant{WorkspaceID: key.WorkspaceID, TTL: models.DefaultPortalTTL, ReadOnly: req.ReadOnly, KeyID: key.ID}
	switch {
	case platform && (req.WorkspaceID == nil || *req.WorkspaceID == ""):
		s.fail(c, models.Invalid("workspaceId", "is required with a platform key"))
		return
	case platform:
		if err := models.ValidateWorkspaceID(*req.WorkspaceID); err != nil {
			s.fail(c, models.Invalid("workspaceId", "%s", err.Error()))
			return
		}
		g.WorkspaceID = *req.WorkspaceID
	case req.WorkspaceID != nil && *req.WorkspaceID != key.WorkspaceID:
		s.fail(c, &models.NotFoundError{Kind: "workspace", ID: *req.WorkspaceID})
		return
	}
	if req.TTL != nil {
		ttl, err := time.ParseDuration(*req.TTL)
		if err != nil || ttl < models.MinPortalTTL || ttl > models.MaxPortalTTL || ttl%time.Second != 0 {
			s.fail(c, models.Invalid("ttl", "must be a whole number of seconds between 1m and 24h, such as \"2h\""))
			return
		}
		g.TTL = ttl
	}
	if req.ReturnURL != nil {
		if err := models.ValidateReturnURL(*req.ReturnURL, s.cfg.PortalOrigins); err != nil {
			s.fail(c, err)
			return
		}
		g.ReturnURL = *req.ReturnURL
	}
	code, expires, err := s.store.CreatePortalCode(c.Request.Context(), g)
	if err != nil {
		s.fail(c, err)
		return
	}
	// The code travels in the fragment: never sent to a server, never in
	// an access log or a Referer.
	link := s.publicBase(c) + "/dashboard/#/portal/" + url.PathEscape(code)
	c.JSON(http.StatusCreated, gin.H{"url": link, "expiresAt": expires, "workspaceId": g.WorkspaceID,
		"ttl": g.TTL.String(), "readOnly": g.ReadOnly, "returnUrl": optional(g.ReturnURL)})
}

// publicBase is where browsers reach the API: the configured public URL
// or, without one, the scheme and host the request reached us by.
func (s *Server) publicBase(c *gin.Context) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if s.secureRequest(c) {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host
}

// secureRequest reports whether the browser reached us over TLS: by the
// configured public URL's scheme, directly, or through a trusted proxy
// that says so (anyone else's X-Forwarded-Proto is not believed).
func (s *Server) secureRequest(c *gin.Context) bool {
	if s.cfg.PublicURL != "" {
		return strings.HasPrefix(s.cfg.PublicURL, "https://")
	}
	return c.Request.TLS != nil || (c.GetHeader("X-Forwarded-Proto") == "https" && s.fromTrustedProxy(c))
}

// fromTrustedProxy reports whether the request's peer is one of the
// configured reverse proxies.
func (s *Server) fromTrustedProxy(c *gin.Context) bool {
	peer, err := netip.ParseAddr(c.RemoteIP())
	if err != nil {
		return false
	}
	peer = peer.Unmap()
	for _, p := range s.proxies {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// exchangePortalCode is POST /v1/portal/exchange {code}: the page opened
// from a portal link spends its code for a session, held in cookies. It
// needs no key; a failure counts against the client address as a failed
// authentication does.
func (s *Server) exchangePortalCode(c *gin.Context) {
	client, now := c.ClientIP(), time.Now()
	if wait := s.authFailures.empty(client, now); wait > 0 {
		s.fail(c, &rateLimited{retryAfter: wait, what: "failed authentications from this address"})
		return
	}
	var req struct {
		Code string `json:"code"`
	}
	if err := decode(c, 1<<10, &req); err != nil {
		s.fail(c, err)
		return
	}
	sess, token, csrf, err := s.store.ExchangePortalCode(c.Request.Context(), req.Code)
	if err != nil {
		if errors.Is(err, models.ErrPortalCode) {
			s.authFailures.take(client, now)
		}
		s.fail(c, err)
		return
	}
	s.setPortalCookies(c, token, csrf, sess.ExpiresAt)
	c.JSON(http.StatusOK, s.portalJSON(sess))
}

func (s *Server) setPortalCookies(c *gin.Context, token, csrf string, expires time.Time) {
	secure := s.secureRequest(c)
	for _, ck := range []*http.Cookie{
		{Name: portalCookie, Value: token, HttpOnly: true},
		{Name: portalCSRFCookie, Value: csrf},
	} {
		ck.Path, ck.Expires, ck.Secure = "/", expires, secure
		if ck.Value == "" {
			ck.MaxAge = -1
		}
		// Framed by another site, the cookies must be SameSite=None, which
		// browsers take only with Secure, and Partitioned (CHIPS) so that
		// they live in that site's partition. Without TLS only a page of
		// the same site can frame the portal.
		if secure {
			ck.SameSite, ck.Partitioned = http.SameSiteNoneMode, true
		} else {
			ck.SameSite = http.SameSiteLaxMode
		}
		http.SetCookie(c.Writer, ck)
	}
}

func (s *Server) portalJSON(sess models.PortalSession) gin.H {
	return gin.H{"workspaceId": sess.WorkspaceID, "readOnly": sess.ReadOnly, "expiresAt": sess.ExpiresAt,
		"returnUrl": optional(sess.ReturnURL), "theme": s.cfg.PortalTheme}
}

// portalSession is GET /v1/portal/session: the signed-in portal session.
func (s *Server) portalSession(c *gin.Context) {
	sess, ok := portalOf(c)
	if !ok {
		s.fail(c, fmt.Errorf("%w: this route answers a portal session only", models.ErrForbidden))
		return
	}
	c.JSON(http.StatusOK, s.portalJSON(sess))
}

// portalSignOut is POST /v1/portal/sign-out: the session ends and its
// cookies are cleared.
func (s *Server) portalSignOut(c *gin.Context) {
	sess, ok := portalOf(c)
	if !ok {
		s.fail(c, fmt.Errorf("%w: this route answers a portal session only", models.ErrForbidden))
		return
	}
	if err := s.store.EndPortalSession(c.Request.Context(), sess.ID); err != nil {
		s.fail(c, err)
		return
	}
	s.setPortalCookies(c, "", "", time.Unix(0, 0))
	c.Status(http.StatusNoContent)
}

func portalOf(c *gin.Context) (models.PortalSession, bool) {
	v, ok := c.Get(portalContext)
	sess, _ := v.(models.PortalSession)
	return sess, ok
}

// authenticatePortal signs a request in by its portal cookie: as an
// api_user key of the session's workspace. A change must carry the CSRF
// token; a read-only session changes nothing (and reads no secret).
func (s *Server) authenticatePortal(c *gin.Context, token string) {
	client, now := c.ClientIP(), time.Now()
	sess, err := s.store.PortalSession(c.Request.Context(), token)
	if err != nil {
		if isNotFound(err) {
			s.authFailures.take(client, now)
			err = fmt.Errorf("%w: the portal session ended or expired; open the portal again", models.ErrUnauthorized)
		}
		s.fail(c, err)
		return
	}
	safe := c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead
	if !safe {
		sum := sha256.Sum256([]byte(c.GetHeader(csrfHeader)))
		if c.GetHeader(csrfHeader) == "" || subtle.ConstantTimeCompare(sum[:], sess.CSRFHash) != 1 {
			s.fail(c, fmt.Errorf("%w: a change in a portal session needs the %s header from the %s cookie", models.ErrForbidden, csrfHeader, portalCSRFCookie))
			return
		}
	}
	if sess.ReadOnly && (!safe || c.FullPath() == "/v1/webhooks/:id/secret") && c.FullPath() != "/v1/portal/sign-out" {
		s.fail(c, fmt.Errorf("%w: this portal session is read-only", models.ErrForbidden))
		return
	}
	c.Set(portalContext, sess)
	c.Set(keyContext, models.APIKey{ID: sess.ID, WorkspaceID: sess.WorkspaceID, Scopes: []string{models.ScopeAPIUser}})
	c.Next()
}

// parseProxies reads trusted proxies (addresses or CIDRs, checked by the
// configuration already; what does not parse is left out).
func parseProxies(proxies []string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range proxies {
		if prefix, err := netip.ParsePrefix(p); err == nil {
			out = append(out, prefix.Masked())
		} else if addr, err := netip.ParseAddr(p); err == nil {
			addr = addr.Unmap()
			out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
		}
	}
	return out
}
