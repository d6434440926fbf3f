package worker

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// sdkLatencyBuckets are the bounds, in seconds, of the Temporal SDK's
// latency histograms (task schedule-to-start, execution, poll and request
// latencies): OpenTelemetry's default bounds are meant for milliseconds.
var sdkLatencyBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// SDKMetrics returns a metrics handler for a Temporal client that exports
// the SDK's own metrics (temporal_workflow_task_schedule_to_start_latency,
// temporal_worker_task_slots_available, temporal_request_failure, …) to
// reg, beside ours: through the SDK's OpenTelemetry handler and
// OpenTelemetry's Prometheus exporter. A metric the SDK cannot record is
// logged, never fatal.
func SDKMetrics(reg prometheus.Registerer, logger *slog.Logger) (client.MetricsHandler, error) {
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("temporal sdk metrics: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(exporter),
		sdkmetric.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram, Unit: "s"},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: sdkLatencyBuckets}},
		)),
	)
	return temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter:   provider.Meter("temporal-sdk-go"),
		OnError: func(err error) { logger.Warn("temporal sdk metric", "error", err) },
	}), nil
}
