package integration_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/tidysupport/tidyhooks/emitter"
	"github.com/tidysupport/tidyhooks/models"
)

// A platform service in Go emits through the emitter package, without HTTP.
func TestEmitterPackageEmitsWithoutHTTP(t *testing.T) {
	s := newStack(t, stackOptions{})
	r := newReceiver(t, ok)
	s.webhook(s.keyA, r.URL, "message.*")
	em := emitter.New(s.store, s.client, emitter.Options{TaskQueue: s.taskQueue})
	ctx := context.Background()

	id, err := em.Emit(ctx, models.EmitRequest{Event: "message.created", WorkspaceID: "wrk_a", Payload: json.RawMessage(`{"message": {"id": "msg_9"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	s.wait(id)
	if got := r.eventIDs(); got[id] != 1 {
		t.Errorf("receiver got %v, want %s once", got, id)
	}
	d := r.deliveries()[0]
	if ev := d.header.Get("X-TidySupport-Event"); ev != "message.received" {
		t.Errorf("X-TidySupport-Event = %q, want message.received", ev)
	}

	var ve *models.ValidationError
	if _, err := em.Emit(ctx, models.EmitRequest{Event: "message.created", Payload: json.RawMessage(`{}`)}); !errors.As(err, &ve) || ve.Field != "workspaceId" {
		t.Errorf("emit without a workspace: err = %v, want a validation error on workspaceId", err)
	}
}

// With a bound on concurrent starts, a burst waits its turn and every
// event is still accepted and delivered.
func TestEmitterBoundsConcurrentStarts(t *testing.T) {
	s := newStack(t, stackOptions{})
	r := newReceiver(t, ok)
	s.webhook(s.keyA, r.URL, "*")
	em := emitter.New(s.store, s.client, emitter.Options{TaskQueue: s.taskQueue, MaxConcurrentStarts: 1, EagerStart: true})
	ctx := context.Background()
	var reqs []models.EmitRequest
	for i := range 20 {
		reqs = append(reqs, models.EmitRequest{ID: fmt.Sprintf("evt_bound_%d", i), Event: "contact.created", Payload: json.RawMessage(`{}`)})
	}
	events, err := em.PrepareBatch(reqs, "wrk_a")
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Publish(ctx, events); err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		s.wait(ev.ID)
	}
	if got := r.eventIDs(); len(got) != 20 {
		t.Errorf("receiver got %d events, want 20", len(got))
	}
}
