package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidysupport/tidyhooks/models"
)

// Censuser counts what operators watch across every workspace.
type Censuser interface {
	Census(ctx context.Context) (models.Census, error)
}

// censusTimeout bounds the queries of one scrape.
const censusTimeout = 3 * time.Second

// CensusCollector exports, read from the database at each scrape,
// tidyhooks_webhooks{status} and tidyhooks_deliveries_waiting_retry. Every
// worker exports the same values: aggregate them with max(), not sum().
// A scrape that cannot read the database exports none of them, so that an
// alert on their absence fires, and logs why.
type CensusCollector struct {
	src      Censuser
	logger   *slog.Logger
	webhooks *prometheus.Desc
	waiting  *prometheus.Desc
}

// NewCensusCollector returns the collector; register it once per process.
func NewCensusCollector(src Censuser, logger *slog.Logger) *CensusCollector {
	return &CensusCollector{
		src:    src,
		logger: logger,
		webhooks: prometheus.NewDesc("tidyhooks_webhooks",
			"Webhooks in every workspace, by status (ACTIVE, PAUSED).", []string{"status"}, nil),
		waiting: prometheus.NewDesc("tidyhooks_deliveries_waiting_retry",
			"Deliveries that failed an attempt and wait for a scheduled retry.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *CensusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.webhooks
	ch <- c.waiting
}

// Collect implements prometheus.Collector.
func (c *CensusCollector) Collect(ch chan<- prometheus.Metric) {
	// prometheus.Collector's Collect takes no context: the scrape's
	// queries are bounded by censusTimeout instead.
	ctx, cancel := context.WithTimeout(context.Background(), censusTimeout)
	defer cancel()
	census, err := c.src.Census(ctx)
	if err != nil {
		c.logger.Warn("metrics: census", "error", err)
		return
	}
	for _, status := range []models.WebhookStatus{models.WebhookActive, models.WebhookPaused} {
		ch <- prometheus.MustNewConstMetric(c.webhooks, prometheus.GaugeValue, float64(census.Webhooks[status]), string(status))
	}
	ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(census.RetriesWaiting))
}
