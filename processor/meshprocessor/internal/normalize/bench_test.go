package normalize

import (
	"runtime"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

// BenchmarkNormalize measures normalizing alone on 100 bookinfo traces of
// Istio spans as the proxies send them (string tags; each proxy's spans of
// 50 traces in one export, under its one resource): all of it (the
// sidecar, and the gateway's kept spans), what the gateway writes on every
// span before deciding, and pdata_floor: writing the same output with no
// logic (each attribute that normalizing adds, changes or removes written
// once, after one EnsureCapacity per span; names and statuses set; checked
// against normalizing's output), what pdata's API costs by itself:
//
//	go test -run XXX -bench . -benchmem ./processor/meshprocessor/internal/normalize/
func BenchmarkNormalize(b *testing.B) {
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.05, FlagRate: 0.05, CanaryShare: 0.1, Seed: 42, StablePods: true})
	input := ptrace.NewTraces()
	batches := meshgen.NewProxyBatches(50)
	add := func(exports []meshgen.Export) {
		for _, e := range exports {
			e.Traces.ResourceSpans().MoveAndAppendTo(input.ResourceSpans())
		}
	}
	for range 100 {
		add(batches.Add(g.Next()))
	}
	add(batches.Flush())
	n := New(defaultSettings(b))
	for _, c := range []struct {
		name string
		run  func(ptrace.Traces, string) Counts
	}{{"traces", n.Traces}, {"decision_attributes", n.DecisionAttributes}} {
		b.Run(c.name, func(b *testing.B) {
			benchmarkPerSpan(b, input, func(td ptrace.Traces) { c.run(td, "") })
		})
	}
	b.Run("pdata_floor", func(b *testing.B) {
		want := ptrace.NewTraces()
		input.CopyTo(want)
		n.Traces(want, "")
		writes := outputWrites(input, want)
		replay := func(td ptrace.Traces) {
			i := 0
			for _, rs := range td.ResourceSpans().All() {
				writes[i].apply(rs.Resource().Attributes())
				i++
				for _, ss := range rs.ScopeSpans().All() {
					for _, span := range ss.Spans().All() {
						writes[i].apply(span.Attributes())
						writes[i].applySpan(span)
						i++
					}
				}
			}
		}
		// The floor writes exactly what normalizing writes.
		got := ptrace.NewTraces()
		input.CopyTo(got)
		replay(got)
		require.NoError(b, ptracetest.CompareTraces(want, got))
		benchmarkPerSpan(b, input, replay)
	})
}

// benchmarkPerSpan times run on fresh copies of input, decoded from OTLP
// protobuf as the receiver hands them over (attribute slices with the room
// their decoding left, not the exact size of a CopyTo), and reports ns and
// allocations per span (the decoding's are not counted).
func benchmarkPerSpan(b *testing.B, input ptrace.Traces, run func(ptrace.Traces)) {
	spans := input.SpanCount()
	raw, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(input)
	require.NoError(b, err)
	var ms0, ms1 runtime.MemStats
	var mallocs uint64
	for b.Loop() {
		b.StopTimer()
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(raw)
		require.NoError(b, err)
		runtime.GC() // the decoding's garbage is not normalizing's
		runtime.ReadMemStats(&ms0)
		b.StartTimer()
		run(td)
		b.StopTimer()
		runtime.ReadMemStats(&ms1)
		mallocs += ms1.Mallocs - ms0.Mallocs
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
	b.ReportMetric(float64(mallocs)/float64(b.N*spans), "allocs/span")
}

// attributeWrites are the attributes (and span name and status) that turn
// one resource or span of the input into the output.
type attributeWrites struct {
	removed []string
	keys    []string
	values  []pcommon.Value
	name    string
	status  *ptrace.StatusCode
}

func (w attributeWrites) applySpan(span ptrace.Span) {
	if w.name != "" {
		span.SetName(w.name)
	}
	if w.status != nil {
		span.Status().SetCode(*w.status)
	}
}

func (w attributeWrites) apply(m pcommon.Map) {
	for _, k := range w.removed {
		m.Remove(k)
	}
	m.EnsureCapacity(m.Len() + len(w.keys))
	for i, k := range w.keys {
		w.values[i].CopyTo(m.PutEmpty(k))
	}
}

// outputWrites lists, resource by resource and span by span in order, what
// differs between in and out.
func outputWrites(in, out ptrace.Traces) []attributeWrites {
	diff := func(a, b pcommon.Map) attributeWrites {
		var w attributeWrites
		for k, v := range b.All() {
			if old, ok := a.Get(k); !ok || !old.Equal(v) {
				w.keys = append(w.keys, k)
				w.values = append(w.values, v)
			}
		}
		for k := range a.All() {
			if _, ok := b.Get(k); !ok {
				w.removed = append(w.removed, k)
			}
		}
		return w
	}
	var writes []attributeWrites
	for i, rs := range in.ResourceSpans().All() {
		ors := out.ResourceSpans().At(i)
		writes = append(writes, diff(rs.Resource().Attributes(), ors.Resource().Attributes()))
		for j, ss := range rs.ScopeSpans().All() {
			for k, span := range ss.Spans().All() {
				ospan := ors.ScopeSpans().At(j).Spans().At(k)
				w := diff(span.Attributes(), ospan.Attributes())
				if ospan.Name() != span.Name() {
					w.name = ospan.Name()
				}
				if code := ospan.Status().Code(); code != span.Status().Code() {
					w.status = &code
				}
				writes = append(writes, w)
			}
		}
	}
	return writes
}
