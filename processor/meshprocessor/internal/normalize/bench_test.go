package normalize

import (
	"runtime"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

// BenchmarkNormalize measures normalizing alone on 100 bookinfo traces of
// Istio spans (string tags, as the proxies send them): all of it (the
// sidecar, and the gateway's kept spans), and what the gateway writes on
// every span before deciding:
//
//	go test -run XXX -bench . -benchmem ./processor/meshprocessor/internal/normalize/
func BenchmarkNormalize(b *testing.B) {
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.05, FlagRate: 0.05, CanaryShare: 0.1, Seed: 42})
	input := ptrace.NewTraces()
	for range 100 {
		g.Next().Traces.ResourceSpans().MoveAndAppendTo(input.ResourceSpans())
	}
	spans := input.SpanCount()
	n := New(defaultSettings(b))
	for _, c := range []struct {
		name string
		run  func(ptrace.Traces, string) Counts
	}{{"traces", n.Traces}, {"decision_attributes", n.DecisionAttributes}} {
		b.Run(c.name, func(b *testing.B) {
			var ms0, ms1 runtime.MemStats
			var mallocs uint64
			for b.Loop() {
				b.StopTimer()
				td := ptrace.NewTraces()
				input.CopyTo(td)
				runtime.GC() // the copy's garbage is not normalizing's
				runtime.ReadMemStats(&ms0)
				b.StartTimer()
				c.run(td, "")
				b.StopTimer()
				runtime.ReadMemStats(&ms1)
				mallocs += ms1.Mallocs - ms0.Mallocs
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
			b.ReportMetric(float64(mallocs)/float64(b.N*spans), "allocs/span")
		})
	}
}
