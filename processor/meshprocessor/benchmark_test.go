package meshprocessor

import (
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshbench"
	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadata"
)

func newTransformProcessor(b *testing.B, next consumer.Traces) processor.Traces {
	f := transformprocessor.NewFactory()
	cfg := f.CreateDefaultConfig()
	var raw map[string]any
	require.NoError(b, yaml.Unmarshal([]byte(meshbench.TransformConfig), &raw))
	require.NoError(b, confmap.NewFromStringMap(raw).Unmarshal(cfg))
	require.NoError(b, confmap.Validate(cfg))
	p, err := f.CreateTraces(b.Context(), processortest.NewNopSettings(f.Type()), cfg, next)
	require.NoError(b, err)
	require.NoError(b, p.Start(b.Context(), componenttest.NewNopHost()))
	b.Cleanup(func() { require.NoError(b, p.Shutdown(b.Context())) })
	return p
}

// newMeshProcessorForBench renames service and span names (naming: semconv)
// as the OTTL of meshbench.TransformConfig does.
func newMeshProcessorForBench(b *testing.B, next consumer.Traces) processor.Traces {
	cfg := createDefaultConfig().(*Config)
	cfg.Naming = namingSemconv
	p, err := NewFactory().CreateTraces(b.Context(), processortest.NewNopSettings(metadata.Type), cfg, next)
	require.NoError(b, err)
	require.NoError(b, p.Start(b.Context(), componenttest.NewNopHost()))
	b.Cleanup(func() { require.NoError(b, p.Shutdown(b.Context())) })
	return p
}

// benchInput is 100 bookinfo traces (Istio sidecars and gateway, string tags).
func benchInput() ptrace.Traces {
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.05, FlagRate: 0.05, CanaryShare: 0.1, Seed: 42})
	td := ptrace.NewTraces()
	for range 100 {
		g.Next().Traces.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	}
	return td
}

// BenchmarkNormalize compares the mesh processor with the contrib transform
// processor doing the equivalent OTTL mapping, on the same spans, in one run:
//
//	go test -run XXX -bench Normalize -benchmem ./processor/meshprocessor/
func BenchmarkNormalize(b *testing.B) {
	for _, c := range []struct {
		name string
		new  func(*testing.B, consumer.Traces) processor.Traces
	}{{"mesh", newMeshProcessorForBench}, {"transform", newTransformProcessor}} {
		b.Run(c.name, func(b *testing.B) {
			input := benchInput()
			spans := input.SpanCount()
			p := c.new(b, consumertest.NewNop())
			td := ptrace.NewTraces()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				td = ptrace.NewTraces()
				input.CopyTo(td)
				b.StartTimer()
				if err := p.ConsumeTraces(b.Context(), td); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
		})
	}
}
