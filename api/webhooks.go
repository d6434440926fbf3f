package api

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tidysupport/tidyhooks/models"
	"github.com/tidysupport/tidyhooks/signing"
	"github.com/tidysupport/tidyhooks/workflows"
)

// webhookJSON is SPEC §5's webhook object.
type webhookJSON struct {
	ID               string     `json:"id"`
	URL              string     `json:"url"`
	DisplayName      string     `json:"displayName"`
	Status           string     `json:"status"`
	Events           []string   `json:"events"`
	CreatedAt        time.Time  `json:"createdAt"`
	UpdatedAt        time.Time  `json:"updatedAt"`
	LastAttemptedAt  *time.Time `json:"lastAttemptedAt"`
	LastErrorAt      *time.Time `json:"lastErrorAt"`
	LastErrorMessage *string    `json:"lastErrorMessage"`
	PausedReason     *string    `json:"pausedReason,omitempty"`
	// PausedAt is when a paused webhook was paused; PauseAcknowledgedAt
	// is null while an automatic pause waits to be taken note of.
	PausedAt            *time.Time `json:"pausedAt,omitempty"`
	PauseAcknowledgedAt *time.Time `json:"pauseAcknowledgedAt,omitempty"`
	// Headers and Auth are shown masked: names and identities in full,
	// secret values by their last characters at most.
	Headers  map[string]string `json:"headers,omitempty"`
	Auth     *authJSON         `json:"auth,omitempty"`
	Filter   map[string]any    `json:"filter,omitempty"`
	Throttle *models.Throttle  `json:"throttle,omitempty"`
	Ordering string            `json:"ordering"`
	Secret   string            `json:"secret,omitempty"`
}

// authJSON is a webhook's endpoint authentication as the API shows it.
// An mTLS certificate is shown with its subject and expiry; its private
// key never is.
type authJSON struct {
	models.EndpointAuth
	CertificateSubject   string     `json:"certificateSubject,omitempty"`
	CertificateExpiresAt *time.Time `json:"certificateExpiresAt,omitempty"`
}

func toAuthJSON(a *models.EndpointAuth) *authJSON {
	if a == nil {
		return nil
	}
	out := &authJSON{EndpointAuth: a.Masked()}
	if a.Type == models.AuthMTLS {
		if cert, err := a.ClientCertificate(); err == nil {
			expires := cert.Leaf.NotAfter.UTC()
			out.CertificateSubject, out.CertificateExpiresAt = cert.Leaf.Subject.String(), &expires
		} else if leaf := models.CertificateLeaf(a.Certificate); leaf != nil {
			// Expired since it was saved: still shown, so that it can be
			// seen why deliveries fail.
			expires := leaf.NotAfter.UTC()
			out.CertificateSubject, out.CertificateExpiresAt = leaf.Subject.String(), &expires
		}
	}
	return out
}

func toJSON(w models.Webhook) webhookJSON {
	out := webhookJSON{
		ID: w.ID, URL: w.URL, DisplayName: w.DisplayName, Status: string(w.Status), Events: w.Events,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, LastAttemptedAt: w.LastAttemptedAt, LastErrorAt: w.LastErrorAt,
	}
	if w.LastErrorMessage != "" {
		out.LastErrorMessage = &w.LastErrorMessage
	}
	if w.Status == models.WebhookPaused {
		out.PausedReason = &w.PausedReason
		out.PausedAt, out.PauseAcknowledgedAt = w.PausedAt, w.PauseAcknowledgedAt
	}
	if len(w.Headers) > 0 {
		out.Headers = make(map[string]string, len(w.Headers))
		for name, value := range w.Headers {
			out.Headers[name] = models.Mask(value)
		}
	}
	out.Auth = toAuthJSON(w.Auth)
	out.Filter = models.FilterObject(w.Filters)
	out.Throttle = w.Throttle
	out.Ordering = cmp.Or(w.Ordering, models.OrderingNone)
	return out
}

type createWebhookRequest struct {
	URL         string                     `json:"url"`
	DisplayName string                     `json:"displayName"`
	Events      []string                   `json:"events"`
	Status      string                     `json:"status"`
	Headers     map[string]string          `json:"headers"`
	Filter      map[string]json.RawMessage `json:"filter"`
	Throttle    *models.Throttle           `json:"throttle"`
	Ordering    string                     `json:"ordering"`
	// Auth is read apart (newWebhook), so that an error in it is named
	// auth.<field>.
	Auth json.RawMessage `json:"auth"`
}

// newWebhook reads the request as a models.NewWebhook.
func (r createWebhookRequest) newWebhook() (models.NewWebhook, error) {
	n := models.NewWebhook{URL: r.URL, DisplayName: r.DisplayName, Events: r.Events, Status: r.Status, Headers: r.Headers, Throttle: r.Throttle, Ordering: r.Ordering}
	if r.Filter != nil {
		filters, err := models.ParseFilter(r.Filter)
		if err != nil {
			return n, err
		}
		n.Filters = filters
	}
	if r.Auth != nil && string(r.Auth) != "null" {
		if err := strictJSON(r.Auth, &n.Auth); err != nil {
			return n, fieldError("auth", err)
		}
	}
	return n, nil
}

// createWebhook is POST /v1/webhooks.
func (s *Server) createWebhook(c *gin.Context) {
	var req createWebhookRequest
	if err := decode(c, 64<<10, &req); err != nil {
		s.fail(c, err)
		return
	}
	n, err := req.newWebhook()
	if err != nil {
		s.fail(c, err)
		return
	}
	w, err := n.Validate(apiKey(c).WorkspaceID, s.cfg.URLPolicy)
	if err != nil {
		s.fail(c, err)
		return
	}
	secret, err := signing.NewSecret()
	if err != nil {
		s.fail(c, err)
		return
	}
	created, err := s.store.CreateWebhook(c.Request.Context(), w, secret, s.cfg.MaxWebhooks)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := toJSON(created)
	out.Secret = secret
	c.JSON(http.StatusCreated, out)
}

// Listing limits.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// listWebhooks is GET /v1/webhooks.
func (s *Server) listWebhooks(c *gin.Context) {
	limit, err := pageSize(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	page, err := s.store.ListWebhooks(c.Request.Context(), apiKey(c).WorkspaceID, c.Query("cursor"), limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	items := make([]webhookJSON, len(page.Items))
	for i, w := range page.Items {
		items[i] = toJSON(w)
	}
	var next *string
	if page.NextCursor != "" {
		next = &page.NextCursor
	}
	c.JSON(http.StatusOK, gin.H{"webhooks": gin.H{"items": items, "nextCursor": next}})
}

func pageSize(c *gin.Context) (int, error) {
	raw, ok := c.GetQuery("limit")
	if !ok {
		return defaultPageSize, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxPageSize {
		return 0, models.Invalid("limit", "must be a whole number from 1 to %d", maxPageSize)
	}
	return n, nil
}

// getWebhook is GET /v1/webhooks/{id}.
func (s *Server) getWebhook(c *gin.Context) {
	w, err := s.store.Webhook(c.Request.Context(), apiKey(c).WorkspaceID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toJSON(w))
}

func isNotFound(err error) bool { return errors.Is(err, models.ErrNotFound) }

type patchWebhookRequest struct {
	URL         *string   `json:"url"`
	DisplayName *string   `json:"displayName"`
	Events      *[]string `json:"events"`
	Status      *string   `json:"status"`
	// Headers is a JSON merge patch of the headers (null removes them
	// all, a header set to null is removed); auth is replaced whole, or
	// removed by null.
	Headers  json.RawMessage `json:"headers"`
	Auth     json.RawMessage `json:"auth"`
	Filter   json.RawMessage `json:"filter"`
	Throttle json.RawMessage `json:"throttle"`
	Ordering *string         `json:"ordering"`
}

// patch reads the request as a models.WebhookPatch.
func (r patchWebhookRequest) patch() (models.WebhookPatch, error) {
	p := models.WebhookPatch{URL: r.URL, DisplayName: r.DisplayName, Events: r.Events, Status: r.Status, Ordering: r.Ordering}
	if r.Filter != nil {
		var obj map[string]json.RawMessage
		if string(r.Filter) != "null" {
			if err := strictJSON(r.Filter, &obj); err != nil {
				return p, fieldError("filter", err)
			}
		}
		filters, err := models.ParseFilter(obj)
		if err != nil {
			return p, err
		}
		p.Filters = &filters
	}
	if r.Headers != nil {
		if string(r.Headers) == "null" {
			p.ClearHeaders = true
		} else if err := strictJSON(r.Headers, &p.Headers); err != nil {
			return p, fieldError("headers", err)
		}
		if !p.ClearHeaders && p.Headers == nil {
			p.Headers = map[string]*string{}
		}
	}
	if r.Throttle != nil {
		if string(r.Throttle) == "null" {
			p.ClearThrottle = true
		} else if err := strictJSON(r.Throttle, &p.Throttle); err != nil {
			return p, fieldError("throttle", err)
		}
	}
	if r.Auth != nil {
		if string(r.Auth) == "null" {
			p.ClearAuth = true
		} else if err := strictJSON(r.Auth, &p.Auth); err != nil {
			return p, fieldError("auth", err)
		}
	}
	return p, nil
}

// patchWebhook is PATCH /v1/webhooks/{id}: only the fields given change.
func (s *Server) patchWebhook(c *gin.Context) {
	var req patchWebhookRequest
	if err := decode(c, 64<<10, &req); err != nil {
		s.fail(c, err)
		return
	}
	patch, err := req.patch()
	if err != nil {
		s.fail(c, err)
		return
	}
	w, err := s.store.UpdateWebhook(c.Request.Context(), apiKey(c).WorkspaceID, c.Param("id"), func(w *models.Webhook) error {
		return patch.Apply(w, s.cfg.URLPolicy)
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toJSON(w))
}

// deleteWebhook is DELETE /v1/webhooks/{id}.
func (s *Server) deleteWebhook(c *gin.Context) {
	if err := s.store.DeleteWebhook(c.Request.Context(), apiKey(c).WorkspaceID, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type secretJSON struct {
	Secret    string     `json:"secret"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// getSecret is GET /v1/webhooks/{id}/secret: the current secret and any
// previous one still signing during a rotation's grace period.
func (s *Server) getSecret(c *gin.Context) {
	secrets, err := s.store.Secrets(c.Request.Context(), apiKey(c).WorkspaceID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if len(secrets) == 0 {
		s.fail(c, fmt.Errorf("webhook %s has no valid secret", c.Param("id")))
		return
	}
	previous := make([]secretJSON, 0, len(secrets)-1)
	for _, p := range secrets[1:] {
		previous = append(previous, secretJSON{Secret: p.Value, ExpiresAt: p.ExpiresAt})
	}
	c.JSON(http.StatusOK, gin.H{"secret": secrets[0].Value, "previous": previous})
}

// Grace periods of a rotation.
const (
	DefaultGracePeriod = 24 * time.Hour
	MaxGracePeriod     = 7 * 24 * time.Hour
)

type rotateRequest struct {
	GracePeriod *string `json:"gracePeriod"`
}

// rotateSecret is POST /v1/webhooks/{id}/rotate-secret {gracePeriod?}: a
// new secret signs from now on; the old ones keep signing for the grace
// period (default 24h, at most 7 days, "0s" to stop them at once).
func (s *Server) rotateSecret(c *gin.Context) {
	var req rotateRequest
	if c.Request.ContentLength != 0 {
		if err := decode(c, 4<<10, &req); err != nil {
			s.fail(c, err)
			return
		}
	}
	grace := DefaultGracePeriod
	if req.GracePeriod != nil {
		d, err := time.ParseDuration(*req.GracePeriod)
		if err != nil || d < 0 || d > MaxGracePeriod {
			s.fail(c, models.Invalid("gracePeriod", "must be a duration from 0s to 168h, such as 24h"))
			return
		}
		grace = d
	}
	secret, err := signing.NewSecret()
	if err != nil {
		s.fail(c, err)
		return
	}
	until, err := s.store.RotateSecret(c.Request.Context(), apiKey(c).WorkspaceID, c.Param("id"), secret, grace)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"secret": secret, "previousSecretsExpireAt": until.UTC().Truncate(time.Second)})
}

// testWebhook is POST /v1/webhooks/{id}/test: a testing.connection event
// sent now, once, whatever the webhook's status; the answer carries the
// attempt's outcome.
func (s *Server) testWebhook(c *gin.Context) {
	ctx := c.Request.Context()
	ws := apiKey(c).WorkspaceID
	// The body is optional: {"event": "…"} sends that event type's example
	// payload instead of testing.connection.
	var req struct {
		Event *string `json:"event"`
	}
	if c.Request.ContentLength != 0 {
		if err := decode(c, 4<<10, &req); err != nil {
			s.fail(c, err)
			return
		}
	}
	w, err := s.store.Webhook(ctx, ws, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	typ := models.TestingConnection
	if req.Event != nil {
		if typ, err = exampleType(w, *req.Event); err != nil {
			s.fail(c, err)
			return
		}
	}
	res, err := s.emitter.Test(ctx, ws, w.ID, typ)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := res.Outcome
	body := gin.H{"eventId": res.Event.ID, "event": res.Event.Type.Wire, "delivered": out.Outcome == workflows.OutcomeDelivered,
		"statusCode": nil, "latencyMs": out.LatencyMs, "error": nil, "workflowUrl": s.workflowURL(c, res.WorkflowID, res.RunID)}
	if out.StatusCode != 0 {
		body["statusCode"] = out.StatusCode
	}
	if out.Outcome != workflows.OutcomeDelivered {
		body["error"] = out.Error
	}
	c.JSON(http.StatusOK, body)
}

// acknowledgePause is POST /v1/webhooks/{id}/acknowledge-pause: the
// workspace has taken note of the webhook's automatic pause, and the
// dashboard stops telling of it. The webhook stays paused.
func (s *Server) acknowledgePause(c *gin.Context) {
	if err := emptyBody(c); err != nil {
		s.fail(c, err)
		return
	}
	w, err := s.store.AcknowledgePause(c.Request.Context(), apiKey(c).WorkspaceID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toJSON(w))
}

// exampleType resolves the event a test sends an example of: one the
// webhook subscribes to, so that a receiver never gets an event it did not
// ask for.
func exampleType(w models.Webhook, name string) (models.EventType, error) {
	e, ok := models.LookupEvent(name)
	if !ok || e == models.TestingConnection {
		return models.EventType{}, models.Invalid("event", "unknown event %q; GET /v1/event-types lists them", name)
	}
	if !w.Subscribed(e) {
		return models.EventType{}, models.Invalid("event", "the webhook does not subscribe to %s", e.Wire)
	}
	return e, nil
}

// workflowURL links a workflow run in the Temporal Web UI, or is nil
// without a configured UI. A portal session never gets one: the UI is the
// operator's, and its link names their deployment to a customer's users.
func (s *Server) workflowURL(c *gin.Context, workflowID, runID string) *string {
	if _, inPortal := portalOf(c); s.cfg.TemporalUIURL == "" || inPortal {
		return nil
	}
	ns := s.cfg.Namespace
	if ns == "" {
		ns = "default"
	}
	u := strings.TrimRight(s.cfg.TemporalUIURL, "/") + "/namespaces/" + url.PathEscape(ns) + "/workflows/" +
		url.PathEscape(workflowID) + "/" + url.PathEscape(runID) + "/history"
	return &u
}

type eventTypeJSON struct {
	Name        string          `json:"name"`  // enum name, as in subscriptions
	Event       string          `json:"event"` // wire name, as receivers see it
	Description string          `json:"description"`
	Example     json.RawMessage `json:"example"` // a payload as the receiver gets it
}

type familyJSON struct {
	Name    string `json:"name"`
	Pattern string `json:"pattern"` // the subscription entry for the whole family
	// Operational: events the service emits about itself, which "*" does
	// not cover.
	Operational bool            `json:"operational"`
	Events      []eventTypeJSON `json:"events"`
}

// eventTypes is GET /v1/event-types: the catalog a webhook can subscribe
// to, by family, each event with its description and an example payload.
func (s *Server) eventTypes(c *gin.Context) {
	var families []familyJSON
	for _, f := range models.Families() {
		fam := familyJSON{Name: f, Pattern: strings.ToUpper(f) + "_*", Events: []eventTypeJSON{}}
		for _, e := range slices.Concat(models.Catalog(), models.Operational()) {
			if e.Family == f {
				about := models.Describe(e)
				fam.Operational = e.IsOperational()
				fam.Events = append(fam.Events, eventTypeJSON{Name: e.Name, Event: e.Wire, Description: about.Description, Example: about.Example})
			}
		}
		families = append(families, fam)
	}
	c.JSON(http.StatusOK, gin.H{"all": models.AllEvents, "families": families})
}
