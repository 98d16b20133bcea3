package meshprocessor

import (
	"context"
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadata"
)

// BenchmarkBufferedBytesPerSpan measures what a buffered span costs the
// sampler, in its own accounting (retained-B/span) and on the Go heap
// (heap-B/span), against the OTLP protobuf size of the same spans as they are
// buffered, i.e. normalized (wire-B/span; raw-wire-B/span is before
// normalizing):
//
//	go test -run XXX -bench BufferedBytes ./processor/meshprocessor/
func BenchmarkBufferedBytesPerSpan(b *testing.B) {
	const traces = 2000
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, Seed: 1})
	var wire [][]byte
	spans, wireBytes := 0, 0
	m := ptrace.ProtoMarshaler{}
	for range traces {
		td := g.Next().Traces
		td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool { // hold the root back: stay buffered
			v, _ := rs.Resource().Attributes().Get("service.name")
			return v.Str() == "istio-ingressgateway.istio-system"
		})
		buf, err := m.MarshalTraces(td)
		require.NoError(b, err)
		wire = append(wire, buf)
		spans += td.SpanCount()
		wireBytes += len(buf)
	}
	cfg := createDefaultConfig().(*Config)
	cfg.Sampling.Enabled = true
	normalizer, err := newMeshProcessor(processortest.NewNopSettings(metadata.Type), cfg)
	require.NoError(b, err)
	require.True(b, deferNormalizing(cfg))
	normalizedBytes, fullBytes := 0, 0
	for _, buf := range wire {
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(buf)
		require.NoError(b, err)
		normalizer.normalizer.DecisionAttributes(td, "")
		out, err := m.MarshalTraces(td)
		require.NoError(b, err)
		normalizedBytes += len(out)
		normalizer.normalizer.Traces(td, "")
		out, err = m.MarshalTraces(td)
		require.NoError(b, err)
		fullBytes += len(out)
	}
	var heap, retained float64
	for b.Loop() {
		p, err := newMeshProcessor(processortest.NewNopSettings(metadata.Type), cfg)
		require.NoError(b, err)
		sp := newSamplingProcessor(processortest.NewNopSettings(metadata.Type), cfg, p, consumertest.NewNop(), &fakeClock{now: time.Unix(1, 0)})
		e := sp.engine
		require.NoError(b, sp.Start(b.Context(), componenttest.NewNopHost()))
		u := ptrace.ProtoUnmarshaler{}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for _, buf := range wire {
			td, err := u.UnmarshalTraces(buf)
			require.NoError(b, err)
			require.NoError(b, sp.ConsumeTraces(b.Context(), td))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = float64(after.HeapAlloc-before.HeapAlloc) / float64(spans)
		retained = float64(e.BufferedBytes()) / float64(spans)
		runtime.KeepAlive(sp)
		require.NoError(b, sp.Shutdown(b.Context()))
	}
	perSpanWire := float64(normalizedBytes) / float64(spans)
	b.ReportMetric(float64(wireBytes)/float64(spans), "raw-wire-B/span")
	b.ReportMetric(perSpanWire, "wire-B/span")
	b.ReportMetric(float64(fullBytes)/float64(spans), "full-wire-B/span")
	b.ReportMetric(retained, "retained-B/span")
	b.ReportMetric(heap, "heap-B/span")
	b.ReportMetric(heap/perSpanWire, "heap/wire")
}

// BenchmarkSampling is the gateway's per-span cost: normalize, buffer and
// decide bookinfo traces (10% baseline), kept spans passed on.
func BenchmarkSampling(b *testing.B) {
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.02, FlagRate: 0.01, CanaryShare: 0.1, Seed: 3})
	input := ptrace.NewTraces()
	for range 100 {
		g.Next().Traces.ResourceSpans().MoveAndAppendTo(input.ResourceSpans())
	}
	cfg := createDefaultConfig().(*Config)
	cfg.Sampling.Enabled = true
	p, err := newMeshProcessor(processortest.NewNopSettings(metadata.Type), cfg)
	require.NoError(b, err)
	clock := &fakeClock{now: time.Unix(1, 0)}
	sp := newSamplingProcessor(processortest.NewNopSettings(metadata.Type), cfg, p, consumertest.NewNop(), clock)
	e := sp.engine
	require.NoError(b, sp.Start(b.Context(), componenttest.NewNopHost()))
	b.Cleanup(func() { require.NoError(b, sp.Shutdown(context.Background())) })
	spans := input.SpanCount()
	var round uint32
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		td := ptrace.NewTraces()
		input.CopyTo(td)
		// Fresh trace ids each round, as live traffic has (the round number
		// in the first bytes, the random part untouched).
		round++
		for _, rs := range td.ResourceSpans().All() {
			for _, s := range rs.ScopeSpans().At(0).Spans().All() {
				id := s.TraceID()
				binary.BigEndian.PutUint32(id[:4], round)
				s.SetTraceID(id)
			}
		}
		input = td
		copyIn := ptrace.NewTraces()
		td.CopyTo(copyIn)
		b.StartTimer()
		require.NoError(b, sp.ConsumeTraces(b.Context(), copyIn))
		clock.Advance(2 * time.Second)
		e.Tick()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
}

// BenchmarkSamplingProxyExports is the gateway's per-span cost under the
// load of make bench-pipelines: each proxy's spans of 50 bookinfo traces in
// one request under its one resource, 20 traces' worth of requests per
// 10 ms tick (2000 traces/s), kept spans passed on at each tick, until the
// last trace settles. Besides time and allocations it reports the OTLP bytes
// passed on per kept span (out-B/span), which the sending queue and the
// export pay for again:
//
//	go test -run XXX -bench SamplingProxyExports -benchmem ./processor/meshprocessor/
func BenchmarkSamplingProxyExports(b *testing.B) {
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.02, FlagRate: 0.01, CanaryShare: 0.1, Seed: 3, StablePods: true})
	batches := meshgen.NewProxyBatches(50)
	const traces = 4000
	var ticks [][][]byte // the requests due before each tick, as OTLP
	m := ptrace.ProtoMarshaler{}
	spans := 0
	for i := range traces {
		if i%20 == 0 {
			ticks = append(ticks, nil)
		}
		for _, e := range batches.Add(g.Next()) {
			raw, err := m.MarshalTraces(e.Traces)
			require.NoError(b, err)
			ticks[len(ticks)-1] = append(ticks[len(ticks)-1], raw)
			spans += e.Traces.SpanCount()
		}
	}
	cfg := createDefaultConfig().(*Config)
	cfg.Sampling.Enabled = true
	var outSpans, outBytes int
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		p, err := newMeshProcessor(processortest.NewNopSettings(metadata.Type), cfg)
		require.NoError(b, err)
		clock := &fakeClock{now: time.Unix(1, 0)}
		sink := &consumertest.TracesSink{}
		sp := newSamplingProcessor(processortest.NewNopSettings(metadata.Type), cfg, p, sink, clock)
		require.NoError(b, sp.Start(b.Context(), componenttest.NewNopHost()))
		u := ptrace.ProtoUnmarshaler{}
		for _, reqs := range ticks {
			decoded := make([]ptrace.Traces, len(reqs))
			for i, raw := range reqs {
				decoded[i], err = u.UnmarshalTraces(raw)
				require.NoError(b, err)
			}
			b.StartTimer()
			for _, td := range decoded {
				require.NoError(b, sp.ConsumeTraces(b.Context(), td))
			}
			clock.Advance(10 * time.Millisecond)
			sp.engine.Tick()
			b.StopTimer()
		}
		b.StartTimer()
		for range 110 { // the last traces settle
			clock.Advance(10 * time.Millisecond)
			sp.engine.Tick()
		}
		b.StopTimer()
		clock.Advance(31 * time.Second) // incomplete ones, if any
		sp.engine.Tick()
		require.NoError(b, sp.Shutdown(b.Context()))
		outSpans, outBytes = sink.SpanCount(), 0
		for _, td := range sink.AllTraces() {
			outBytes += m.TracesSize(td)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
	b.ReportMetric(float64(outBytes)/float64(outSpans), "out-B/span")
}
