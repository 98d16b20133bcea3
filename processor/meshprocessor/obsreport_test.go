package meshprocessor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadata"
)

// itemCount returns the value of a processorhelper item counter for one
// processor, and the meter scope it was reported under.
func itemCount(t *testing.T, tel *componenttest.Telemetry, name, id string) (int64, instrumentation.Scope) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.Reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			require.True(t, ok, "%s is an int sum", name)
			assert.True(t, sum.IsMonotonic)
			assert.Equal(t, "{item}", m.Unit)
			for _, dp := range sum.DataPoints {
				want := attribute.NewSet(attribute.String("processor", id), attribute.String("otel.signal", "traces"))
				if dp.Attributes.Equals(&want) {
					return dp.Value, sm.Scope
				}
			}
		}
	}
	t.Fatalf("no %s for processor %s", name, id)
	return 0, instrumentation.Scope{}
}

// In gateway mode (sampling on) the processor reports the same incoming and
// outgoing items as in normalize-only mode, where processorhelper reports
// them: the same names, scope and attributes.
func TestIncomingOutgoingItems(t *testing.T) {
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.5, Seed: 3})
	for _, sampling := range []bool{false, true} {
		tel := componenttest.NewTelemetry()
		t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
		cfg := createDefaultConfig().(*Config)
		cfg.Sampling.Enabled = sampling
		cfg.Sampling.Rules.Baseline.Probability = 0 // keep error traces and one per edge
		set := processortest.NewNopSettings(metadata.Type)
		set.ID = component.NewIDWithName(metadata.Type, "gw")
		set.TelemetrySettings = tel.NewTelemetrySettings()
		sink := new(consumertest.TracesSink)
		p, err := NewFactory().CreateTraces(t.Context(), set, cfg, sink)
		require.NoError(t, err)
		require.NoError(t, p.Start(t.Context(), componenttest.NewNopHost()))
		sent, errorSpans := 0, 0
		for range 20 {
			tr := g.Next()
			sent += tr.Traces.SpanCount()
			if tr.Error {
				errorSpans += tr.Traces.SpanCount()
			}
			require.NoError(t, p.ConsumeTraces(t.Context(), tr.Traces))
		}
		require.NoError(t, p.Shutdown(t.Context()))

		in, scope := itemCount(t, tel, "otelcol_processor_incoming_items", "mesh/gw")
		out, outScope := itemCount(t, tel, "otelcol_processor_outgoing_items", "mesh/gw")
		assert.Equal(t, "go.opentelemetry.io/collector/processor/processorhelper", scope.Name)
		assert.Equal(t, scope, outScope)
		assert.Equal(t, int64(sent), in, "sampling %v: incoming", sampling)
		assert.Equal(t, int64(sink.SpanCount()), out, "sampling %v: outgoing = spans passed on", sampling)
		if sampling {
			assert.GreaterOrEqual(t, sink.SpanCount(), errorSpans, "error traces are kept")
			assert.Less(t, out, in)
			assert.Positive(t, out)
		} else {
			assert.Equal(t, in, out)
		}
	}
}
