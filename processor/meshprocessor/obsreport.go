package meshprocessor // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor"

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// processorhelper's instruments (go.opentelemetry.io/collector/processor/processorhelper
// v0.161.0: obsreport.go and internal/metadata/generated_telemetry.go), which
// every processor built with processorhelper reports.
const (
	processorhelperScope = "go.opentelemetry.io/collector/processor/processorhelper"
	processorKey         = "processor"   // processor/internal.ProcessorKey
	signalKey            = "otel.signal" // processorhelper's signalKey
)

// itemCounts gives the sampling processor, which cannot be built with
// processorhelper (it passes kept traces on later, from its own goroutine),
// the otelcol_processor_incoming_items and otelcol_processor_outgoing_items
// that processorhelper reports for every other processor: the same meter
// scope, names, descriptions and units, and the same attributes (processor =
// the component ID, otel.signal = traces). Incoming counts the spans given to
// ConsumeTraces; outgoing the spans the sampler passes to the next consumer.
type itemCounts struct {
	incoming, outgoing metric.Int64Counter
	attrs              metric.MeasurementOption
}

func newItemCounts(set processor.Settings) (*itemCounts, error) {
	meter := set.TelemetrySettings.MeterProvider.Meter(processorhelperScope)
	incoming, err1 := meter.Int64Counter("otelcol_processor_incoming_items",
		metric.WithDescription("Number of items passed to the processor. [Alpha]"), metric.WithUnit("{item}"))
	outgoing, err2 := meter.Int64Counter("otelcol_processor_outgoing_items",
		metric.WithDescription("Number of items emitted from the processor. [Alpha]"), metric.WithUnit("{item}"))
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return &itemCounts{
		incoming: incoming,
		outgoing: outgoing,
		attrs: metric.WithAttributeSet(attribute.NewSet(
			attribute.String(processorKey, set.ID.String()),
			attribute.String(signalKey, pipeline.SignalTraces.String()),
		)),
	}, nil
}

// countOutgoing wraps the consumer the sampler passes kept spans to.
func (c *itemCounts) countOutgoing(next consumer.Traces) consumer.Traces {
	return outgoingCounter{next: next, counts: c}
}

type outgoingCounter struct {
	next   consumer.Traces
	counts *itemCounts
}

func (o outgoingCounter) Capabilities() consumer.Capabilities { return o.next.Capabilities() }

func (o outgoingCounter) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	// As processorhelper: counted when handed on, whatever the next consumer says.
	o.counts.outgoing.Add(ctx, int64(td.SpanCount()), o.counts.attrs)
	return o.next.ConsumeTraces(ctx, td)
}

// addIncoming counts spans given to the sampling processor (c may be nil:
// samplers built directly in tests).
func (c *itemCounts) addIncoming(ctx context.Context, spans int) {
	if c != nil {
		c.incoming.Add(ctx, int64(spans), c.attrs)
	}
}
