package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tidysupport/tidyhooks/dashboard"
	"github.com/tidysupport/tidyhooks/models"
)

// Handler returns the whole API surface.
func (s *Server) Handler(gatherer prometheus.Gatherer) http.Handler {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(s.requestID, s.recoverer, s.observe)
	r.NoRoute(func(c *gin.Context) { s.fail(c, errNoRoute) })
	r.NoMethod(func(c *gin.Context) { s.fail(c, errNoMethod) })

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})))
	r.GET("/v1/openapi.json", s.openAPI)

	// The dashboard: static pages that call the API below with the key
	// the user signs in with.
	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/dashboard/") })
	r.GET("/dashboard/*filepath", gin.WrapH(http.StripPrefix("/dashboard", dashboard.Handler())))

	v1 := r.Group("/v1", s.authenticate, s.rateLimit)

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
	manage.GET("/webhooks/:id/deliveries", s.listDeliveries)
	manage.POST("/webhooks/:id/recover", s.recoverWebhook)
	manage.GET("/webhooks/:id/stats", s.webhookStats)
	manage.GET("/deliveries/:id", s.getDelivery)
	manage.POST("/deliveries/:id/retry", s.retryDelivery)
	return r
}
