package models

import (
	"strings"
	"time"
)

// DeliveryStatus is where one (event, webhook) delivery stands.
type DeliveryStatus string

const (
	// DeliveryPending: attempts are under way or a retry is due.
	DeliveryPending DeliveryStatus = "pending"
	// DeliveryDelivered: an attempt got a 2xx.
	DeliveryDelivered DeliveryStatus = "delivered"
	// DeliveryFailed: no attempt succeeded and none is due.
	DeliveryFailed DeliveryStatus = "failed"
	// DeliverySkipped: the webhook was paused or deleted before it succeeded.
	DeliverySkipped DeliveryStatus = "skipped"
)

// ParseDeliveryStatus accepts one of the four statuses in any case.
func ParseDeliveryStatus(s string) (DeliveryStatus, error) {
	switch st := DeliveryStatus(strings.ToLower(strings.TrimSpace(s))); st {
	case DeliveryPending, DeliveryDelivered, DeliveryFailed, DeliverySkipped:
		return st, nil
	}
	return "", Invalid("status", "must be pending, delivered, failed or skipped")
}

// AttemptTrigger says what made an attempt.
type AttemptTrigger string

const (
	TriggerScheduled AttemptTrigger = "scheduled" // the event's own workflow, on the retry schedule
	TriggerManual    AttemptTrigger = "manual"    // a retry asked for through the API
	TriggerRecover   AttemptTrigger = "recover"   // a recover of the webhook
	TriggerTest      AttemptTrigger = "test"      // a test of the webhook
)

// AttemptOutcome is how one attempt ended.
type AttemptOutcome string

const (
	AttemptSending   AttemptOutcome = "sending"   // under way
	AttemptDelivered AttemptOutcome = "delivered" // a 2xx
	AttemptFailed    AttemptOutcome = "failed"
	// AttemptUnknown: the worker stopped after the request may have gone
	// out and before its outcome was recorded; a later attempt followed.
	AttemptUnknown AttemptOutcome = "unknown"
)

// MaxResponseBody is how much of a response body an attempt record keeps.
const MaxResponseBody = 4 << 10

// Delivery is one event's delivery to one webhook.
type Delivery struct {
	ID              string
	WorkspaceID     string
	WebhookID       string
	EventID         string
	EventType       string // wire name
	Status          DeliveryStatus
	AttemptCount    int
	LastStatusCode  int // 0 without an answer
	LastError       string
	LastAttemptedAt *time.Time
	NextAttemptAt   *time.Time
	// WorkflowID and RunID name the workflow that first delivered it.
	WorkflowID string
	RunID      string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// Attempts, oldest first, when loaded.
	Attempts []DeliveryAttempt
}

// DeliveryAttempt is one HTTP attempt of a delivery.
type DeliveryAttempt struct {
	Number        int
	Trigger       AttemptTrigger
	Outcome       AttemptOutcome
	StartedAt     time.Time
	FinishedAt    *time.Time
	StatusCode    int    // 0 without an answer
	LatencyMs     *int64 // nil until finished
	ResponseBody  string // at most MaxResponseBody bytes
	Error         string
	NextAttemptAt *time.Time
	WorkflowID    string
	RunID         string
	// RequestHeaders are the headers the attempt sent, secrets masked;
	// ResponseHeaders those it got back. Nil where not recorded.
	RequestHeaders  map[string]string
	ResponseHeaders map[string]string
}

// DeliveryFilter narrows a delivery listing; zero fields do not filter.
type DeliveryFilter struct {
	Status    DeliveryStatus
	EventType string // wire name
	Since     time.Time
	Until     time.Time
}

// DeliveryJob is what one delivery attempt needs: the webhook, the secrets
// that sign now (current first), the event, and the delivery's status so
// far ("" before its first attempt).
type DeliveryJob struct {
	Webhook Webhook
	Secrets []string
	Event   Event
	Status  DeliveryStatus
}

// AttemptStart is the record written before an attempt's request goes out.
type AttemptStart struct {
	WorkspaceID string
	WebhookID   string
	EventID     string
	EventType   string // wire name
	Trigger     AttemptTrigger
	StartedAt   time.Time
	WorkflowID  string
	RunID       string
	// Retry is true when this is a scheduled attempt after the first: any
	// earlier scheduled attempt still "sending" was lost with its worker.
	Retry bool
}

// AttemptRef names an attempt record.
type AttemptRef struct {
	DeliveryID string
	Number     int
	// Scheduled counts the delivery's scheduled attempts, this one
	// included: the attempt's place in the retry schedule.
	Scheduled int
}

// AttemptEnd is an attempt's outcome and what RetryPolicy.Decide made of
// it for the delivery.
type AttemptEnd struct {
	AttemptRef
	Delivered    bool // the attempt got a 2xx
	FinishedAt   time.Time
	StatusCode   int
	LatencyMs    int64
	ResponseBody string
	Error        string
	// RequestHeaders are the headers sent, secrets masked; ResponseHeaders
	// those received (nil without an answer).
	RequestHeaders  map[string]string
	ResponseHeaders map[string]string
	// Status is the delivery's status from now on (Verdict.Status), and
	// NextAttemptAt when the schedule retries (nil when it will not).
	Status        DeliveryStatus
	NextAttemptAt *time.Time
	// KeepDueRetry leaves a delivery whose scheduled retry is still due
	// pending, whatever Status says (Verdict.KeepDueRetry).
	KeepDueRetry bool
}

// DayStats is one day of a webhook's attempts.
type DayStats struct {
	Day       time.Time // midnight UTC
	Delivered int
	Failed    int
	P50       *int64 // latency in ms; nil without attempts
	P95       *int64
}

// StatsDays is how many days GET /v1/webhooks/{id}/stats covers.
const StatsDays = 7

// Census is what operators count across every workspace.
type Census struct {
	Webhooks       map[WebhookStatus]int
	RetriesWaiting int // deliveries pending with a scheduled retry
}
