package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/tidysupport/tidyhooks/models"
)

// emitEvent is POST /v1/events.
func (s *Server) emitEvent(c *gin.Context) {
	var req models.EmitRequest
	if err := decode(c, int64(s.cfg.MaxPayloadBytes)+16<<10, &req); err != nil {
		s.fail(c, err)
		return
	}
	ev, err := s.emitter.Prepare(req, apiKey(c).WorkspaceID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.emitter.Publish(c.Request.Context(), []models.Event{ev}); err != nil {
		s.fail(c, err)
		return
	}
	s.metrics.events.Inc()
	c.JSON(http.StatusAccepted, gin.H{"id": ev.ID})
}

type batchRequest struct {
	Events []models.EmitRequest `json:"events"`
}

// emitBatch is POST /v1/events/batch: all events are accepted, or none.
func (s *Server) emitBatch(c *gin.Context) {
	var req batchRequest
	if err := decode(c, 8<<20, &req); err != nil {
		s.fail(c, err)
		return
	}
	events, err := s.emitter.PrepareBatch(req.Events, apiKey(c).WorkspaceID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.emitter.Publish(c.Request.Context(), events); err != nil {
		s.fail(c, err)
		return
	}
	s.metrics.events.Add(float64(len(events)))
	ids := make([]string, len(events))
	for i, ev := range events {
		ids[i] = ev.ID
	}
	c.JSON(http.StatusAccepted, gin.H{"ids": ids})
}
