package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tidysupport/tidyhooks/models"
)

// deliveryJSON is one delivery of the log.
type deliveryJSON struct {
	ID              string     `json:"id"`
	WebhookID       string     `json:"webhookId"`
	EventID         string     `json:"eventId"`
	Event           string     `json:"event"`
	Status          string     `json:"status"`
	AttemptCount    int        `json:"attemptCount"`
	LastStatusCode  *int       `json:"lastStatusCode"`
	LastError       *string    `json:"lastError"`
	LastAttemptedAt *time.Time `json:"lastAttemptedAt"`
	NextAttemptAt   *time.Time `json:"nextAttemptAt"`
	CreatedAt       time.Time  `json:"createdAt"`
	UpdatedAt       time.Time  `json:"updatedAt"`
	WorkflowID      string     `json:"workflowId"`
	WorkflowURL     *string    `json:"workflowUrl"`
	// RequestBody is the body every attempt sent (one delivery, one
	// body); only with one delivery read whole.
	RequestBody *string       `json:"requestBody,omitempty"`
	Attempts    []attemptJSON `json:"attempts,omitempty"`
}

// attemptJSON is one attempt of a delivery.
type attemptJSON struct {
	Attempt       int        `json:"attempt"`
	Trigger       string     `json:"trigger"`
	Status        string     `json:"status"`
	StartedAt     time.Time  `json:"startedAt"`
	FinishedAt    *time.Time `json:"finishedAt"`
	StatusCode    *int       `json:"statusCode"`
	LatencyMs     *int64     `json:"latencyMs"`
	ResponseBody  *string    `json:"responseBody"`
	Error         *string    `json:"error"`
	NextAttemptAt *time.Time `json:"nextAttemptAt"`
	WorkflowID    string     `json:"workflowId"`
	WorkflowURL   *string    `json:"workflowUrl"`
	// RequestHeaders are the headers the attempt sent (credentials and
	// custom header values masked), ResponseHeaders those it got; null
	// where not recorded.
	RequestHeaders  map[string]string `json:"requestHeaders"`
	ResponseHeaders map[string]string `json:"responseHeaders"`
}

func optional[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

func (s *Server) deliveryJSON(c *gin.Context, d models.Delivery) deliveryJSON {
	out := deliveryJSON{
		ID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID, Event: d.EventType, Status: string(d.Status),
		AttemptCount: d.AttemptCount, LastStatusCode: optional(d.LastStatusCode), LastError: optional(d.LastError),
		LastAttemptedAt: d.LastAttemptedAt, NextAttemptAt: d.NextAttemptAt, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
		WorkflowID: d.WorkflowID, WorkflowURL: s.workflowURL(c, d.WorkflowID, d.RunID),
	}
	for _, a := range d.Attempts {
		out.Attempts = append(out.Attempts, attemptJSON{
			Attempt: a.Number, Trigger: string(a.Trigger), Status: string(a.Outcome), StartedAt: a.StartedAt,
			FinishedAt: a.FinishedAt, StatusCode: optional(a.StatusCode), LatencyMs: a.LatencyMs,
			ResponseBody: optional(a.ResponseBody), Error: optional(a.Error), NextAttemptAt: a.NextAttemptAt,
			WorkflowID: a.WorkflowID, WorkflowURL: s.workflowURL(c, a.WorkflowID, a.RunID),
			RequestHeaders: a.RequestHeaders, ResponseHeaders: a.ResponseHeaders,
		})
	}
	return out
}

// listDeliveries is GET /v1/webhooks/{id}/deliveries: the log newest
// first, filtered by status, event and creation time (since inclusive,
// until exclusive), cursor-paginated.
func (s *Server) listDeliveries(c *gin.Context) {
	ctx := c.Request.Context()
	ws := apiKey(c).WorkspaceID
	limit, err := pageSize(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	f, err := deliveryFilter(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	w, err := s.store.Webhook(ctx, ws, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	page, err := s.store.Deliveries(ctx, ws, w.ID, f, c.Query("cursor"), limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	items := make([]deliveryJSON, len(page.Items))
	for i, d := range page.Items {
		items[i] = s.deliveryJSON(c, d)
	}
	c.JSON(http.StatusOK, gin.H{"deliveries": gin.H{"items": items, "nextCursor": optional(page.NextCursor)}})
}

func deliveryFilter(c *gin.Context) (models.DeliveryFilter, error) {
	var f models.DeliveryFilter
	if v, ok := c.GetQuery("status"); ok {
		st, err := models.ParseDeliveryStatus(v)
		if err != nil {
			return f, err
		}
		f.Status = st
	}
	if v, ok := c.GetQuery("event"); ok {
		typ, found := models.LookupEvent(v)
		if !found {
			return f, models.Invalid("event", "%q is not an event of the catalog", v)
		}
		f.EventType = typ.Wire
	}
	var err error
	if f.Since, err = queryTime(c, "since"); err != nil {
		return f, err
	}
	if f.Until, err = queryTime(c, "until"); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, models.Invalid("until", "must be later than since")
	}
	return f, nil
}

func queryTime(c *gin.Context, name string) (time.Time, error) {
	v, ok := c.GetQuery(name)
	if !ok {
		return time.Time{}, nil
	}
	return parseTime(name, v)
}

func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, models.Invalid(field, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	return t.UTC(), nil
}

// getDelivery is GET /v1/deliveries/{id}: one delivery with every attempt.
func (s *Server) getDelivery(c *gin.Context) {
	ctx := c.Request.Context()
	ws := apiKey(c).WorkspaceID
	d, err := s.store.Delivery(ctx, ws, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	out := s.deliveryJSON(c, d)
	switch ev, err := s.store.Event(ctx, ws, d.EventID); {
	case err == nil:
		body := string(ev.Body())
		out.RequestBody = &body
	case !errors.Is(err, models.ErrNotFound): // an event past retention has no body to show
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// retryDelivery is POST /v1/deliveries/{id}/retry: one manual attempt now,
// with the event's own webhook-id, whatever the delivery's status and the
// webhook's. The answer is the delivery with the new attempt last.
func (s *Server) retryDelivery(c *gin.Context) {
	if err := emptyBody(c); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	ws := apiKey(c).WorkspaceID
	d, err := s.store.Delivery(ctx, ws, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if _, err := s.store.Webhook(ctx, ws, d.WebhookID); isNotFound(err) {
		s.fail(c, fmt.Errorf("%w: webhook %s of delivery %s was deleted", models.ErrConflict, d.WebhookID, d.ID))
		return
	} else if err != nil {
		s.fail(c, err)
		return
	}
	if _, err := s.emitter.Retry(ctx, d); err != nil {
		s.fail(c, err)
		return
	}
	d, err = s.store.Delivery(ctx, ws, d.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.deliveryJSON(c, d))
}

type recoverRequest struct {
	Since  *string `json:"since"`
	Until  *string `json:"until"`
	DryRun bool    `json:"dryRun"`
}

// recoverWebhook is POST /v1/webhooks/{id}/recover {since, until?,
// dryRun?}: redeliver, once each, every delivery created since then (until
// now or until) that failed or was skipped while the webhook was paused.
// dryRun only counts them.
func (s *Server) recoverWebhook(c *gin.Context) {
	var req recoverRequest
	if err := decode(c, 4<<10, &req); err != nil {
		s.fail(c, err)
		return
	}
	now := time.Now().UTC()
	if req.Since == nil {
		s.fail(c, models.Invalid("since", "is required"))
		return
	}
	since, err := parseTime("since", *req.Since)
	if err != nil {
		s.fail(c, err)
		return
	}
	until := now
	if req.Until != nil {
		if until, err = parseTime("until", *req.Until); err != nil {
			s.fail(c, err)
			return
		}
		if until.After(now) {
			until = now
		}
	}
	if !since.Before(until) {
		s.fail(c, models.Invalid("since", "must be earlier than until and than now"))
		return
	}
	ctx := c.Request.Context()
	ws := apiKey(c).WorkspaceID
	w, err := s.store.Webhook(ctx, ws, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	n, err := s.store.CountRecoverable(ctx, w.WorkspaceID, w.ID, since, until)
	if err != nil {
		s.fail(c, err)
		return
	}
	body := gin.H{"dryRun": req.DryRun, "since": since, "until": until, "count": n, "workflowId": nil, "workflowUrl": nil}
	if req.DryRun || n == 0 {
		c.JSON(http.StatusOK, body)
		return
	}
	if w.Status != models.WebhookActive {
		s.fail(c, fmt.Errorf("%w: webhook %s is paused; resume it before recovering its deliveries", models.ErrConflict, w.ID))
		return
	}
	id, run, err := s.emitter.Recover(ctx, ws, w.ID, since, until)
	if err != nil {
		s.fail(c, err)
		return
	}
	body["workflowId"], body["workflowUrl"] = id, s.workflowURL(c, id, run)
	c.JSON(http.StatusAccepted, body)
}

type dayJSON struct {
	Date         string `json:"date"`
	Delivered    int    `json:"delivered"`
	Failed       int    `json:"failed"`
	P50LatencyMs *int64 `json:"p50LatencyMs"`
	P95LatencyMs *int64 `json:"p95LatencyMs"`
}

// webhookStats is GET /v1/webhooks/{id}/stats: the last seven UTC days,
// oldest first, each with its delivered and failed attempts and their p50
// and p95 latency; a day without attempts has zeros and null latencies.
func (s *Server) webhookStats(c *gin.Context) {
	ctx := c.Request.Context()
	w, err := s.store.Webhook(ctx, apiKey(c).WorkspaceID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	days, err := s.store.DeliveryStats(ctx, w.WorkspaceID, w.ID, time.Now(), models.StatsDays)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]dayJSON, len(days))
	for i, d := range days {
		out[i] = dayJSON{Date: d.Day.Format(time.DateOnly), Delivered: d.Delivered, Failed: d.Failed, P50LatencyMs: d.P50, P95LatencyMs: d.P95}
	}
	c.JSON(http.StatusOK, gin.H{"webhookId": w.ID, "days": out})
}
