package worker

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidysupport/tidyhooks/models"
)

// Metrics are the delivery metrics a worker exposes at /metrics. It is an
// activities.Observer.
type Metrics struct {
	attempts    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	logFailures *prometheus.CounterVec
	unfinished  *prometheus.CounterVec
	ended       *prometheus.CounterVec
}

// NewMetrics registers the delivery metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidyhooks_delivery_attempts_total",
			Help: "Delivery attempts, by event, outcome (delivered or failed) and HTTP status class (2xx … 5xx, or none without an answer).",
		}, []string{"event", "outcome", "status_class"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tidyhooks_delivery_attempt_duration_seconds",
			Help:    "Duration of delivery attempts, from sending the request to the answer or the error, by outcome.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30},
		}, []string{"outcome"}),
		logFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidyhooks_delivery_log_write_failures_total",
			Help: "Delivery log writes that failed after the request was made, by what was being written (outcome: the attempt's record; webhook: its lastAttemptedAt and errors). The delivery itself stands.",
		}, []string{"record"}),
		unfinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidyhooks_unfinished_deliveries_total",
			Help: "Deliveries whose workflow ended without delivering them (terminated, timed_out, failed, canceled), recorded failed in the delivery log, by the workflow's status.",
		}, []string{"status"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidyhooks_deliveries_total",
			Help: "Deliveries on the retry schedule that ended, by how: delivered, exhausted (every attempt failed), gone (410: webhook paused), blocked (destination not allowed) or skipped (webhook paused or deleted).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.attempts, m.latency, m.logFailures, m.unfinished, m.ended)
	for _, end := range []models.End{models.EndDelivered, models.EndExhausted, models.EndGone, models.EndBlocked, models.EndSkipped} {
		m.ended.WithLabelValues(string(end)) // each outcome from zero, for rate() and alerts
	}
	return m
}

// ObserveLogWriteFailure counts a log write that failed after a request.
func (m *Metrics) ObserveLogWriteFailure(record string) {
	m.logFailures.WithLabelValues(record).Inc()
}

// ObserveDeliveryEnd counts a delivery that ended.
func (m *Metrics) ObserveDeliveryEnd(end models.End) {
	m.ended.WithLabelValues(string(end)).Inc()
}

// ObserveAttempt records one attempt.
func (m *Metrics) ObserveAttempt(event, outcome string, status int, latency time.Duration) {
	class := "none"
	if status > 0 {
		class = strconv.Itoa(status/100) + "xx"
	}
	m.attempts.WithLabelValues(event, outcome, class).Inc()
	m.latency.WithLabelValues(outcome).Observe(latency.Seconds())
}
