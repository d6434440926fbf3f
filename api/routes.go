package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tidysupport/tidyhooks/dashboard"
	"github.com/tidysupport/tidyhooks/models"
)

// MetricsHandler serves the Prometheus metrics of gatherer; with a token,
// only to requests bearing it (the API's port may face the internet).
func MetricsHandler(gatherer prometheus.Gatherer, token string) http.Handler {
	h := promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte("Bearer " + token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need the bearer token TIDYHOOKS_METRICS_TOKEN names", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Handler returns the whole API surface.
func (s *Server) Handler(gatherer prometheus.Gatherer) http.Handler {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// Only listed proxies may name the client (c.ClientIP); Config
	// validation has parsed them.
	_ = r.SetTrustedProxies(s.cfg.TrustedProxies)
	r.Use(s.requestID, s.recoverer, s.observe)
	r.NoRoute(func(c *gin.Context) { s.fail(c, errNoRoute) })
	r.NoMethod(func(c *gin.Context) { s.fail(c, errNoMethod) })

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", gin.WrapH(MetricsHandler(gatherer, s.cfg.MetricsToken)))
	r.GET("/v1/openapi.json", s.openAPI)

	// The dashboard: static pages that call the API below with the key
	// the user signs in with.
	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/dashboard/") })
	pages := http.StripPrefix("/dashboard", dashboard.Handler(dashboard.Options{FrameAncestors: s.cfg.PortalOrigins, ImageOrigin: s.cfg.PortalTheme.LogoOrigin()}))
	r.GET("/dashboard/*filepath", func(c *gin.Context) {
		if !dashboard.Has(c.Param("filepath")) {
			s.fail(c, errNoRoute)
			return
		}
		pages.ServeHTTP(c.Writer, c.Request)
	})

	// A portal link's page spends its code here, before it has a session.
	r.POST("/v1/portal/exchange", s.noStore, s.wellFormed, s.exchangePortalCode)

	v1 := r.Group("/v1", s.noStore, s.authenticate, s.rateLimit, s.wellFormed)
	v1.POST("/portal-sessions", s.createPortalSession)
	v1.GET("/portal/session", s.portalSession)
	v1.POST("/portal/sign-out", s.portalSignOut)

	// ingestRoutes (errors.go) counts refusals on these two.
	ingest := v1.Group("", s.require(models.ScopeEventsWrite))
	ingest.POST("/events", s.emitEvent)
	ingest.POST("/events/batch", s.emitBatch)

	manage := v1.Group("", s.require(models.ScopeAPIUser))
	manage.GET("/event-types", s.eventTypes)
	manage.GET("/webhooks", s.listWebhooks)
	manage.POST("/webhooks", s.createWebhook)
	manage.GET("/webhooks/:id", s.getWebhook)
	manage.PATCH("/webhooks/:id", s.patchWebhook)
	manage.DELETE("/webhooks/:id", s.deleteWebhook)
	manage.GET("/webhooks/:id/secret", s.getSecret)
	manage.POST("/webhooks/:id/rotate-secret", s.rotateSecret)
	manage.POST("/webhooks/:id/test", s.testWebhook)
	manage.POST("/webhooks/:id/acknowledge-pause", s.acknowledgePause)
	manage.GET("/webhooks/:id/deliveries", s.listDeliveries)
	manage.POST("/webhooks/:id/recover", s.recoverWebhook)
	manage.GET("/webhooks/:id/stats", s.webhookStats)
	manage.GET("/deliveries/:id", s.getDelivery)
	manage.POST("/deliveries/:id/retry", s.retryDelivery)
	return r
}
