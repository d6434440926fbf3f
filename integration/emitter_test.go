package integration_test

import (
	"context"
	"encoding/json"
	"errors"
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
