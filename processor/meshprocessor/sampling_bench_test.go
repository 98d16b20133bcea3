package meshprocessor

import (
	"compress/gzip"
	"context"
	"encoding/binary"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
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

// proxyExportTicks is the load of make bench-pipelines as OTLP requests:
// each proxy's spans of 50 bookinfo traces in one request under its one
// resource, grouped by the 10 ms tick they arrive before (20 traces' worth
// per tick: 2000 traces/s).
func proxyExportTicks(b *testing.B) (ticks [][][]byte, spans int) {
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.02, FlagRate: 0.01, CanaryShare: 0.1, Seed: 3, StablePods: true})
	batches := meshgen.NewProxyBatches(50)
	m := ptrace.ProtoMarshaler{}
	for i := range 4000 {
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
	return ticks, spans
}

// runGateway runs ticks through the gateway's processor (the default
// config with sampling on) and returns what it passed on. Only the
// ingesting and the ticks while traffic arrives and until the last trace
// settles run with b's timer on.
func runGateway(b *testing.B, ticks [][][]byte) *consumertest.TracesSink {
	b.StopTimer()
	defer b.StartTimer()
	cfg := createDefaultConfig().(*Config)
	cfg.Sampling.Enabled = true
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
	return sink
}

// BenchmarkSamplingProxyExports is the gateway's per-span cost under the
// load of make bench-pipelines (proxyExportTicks), kept spans passed on at
// each tick, until the last trace settles. Besides time and allocations it
// reports the OTLP bytes passed on per kept span (out-B/span), which the
// sending queue and the export pay for again:
//
//	go test -run XXX -bench SamplingProxyExports -benchmem ./processor/meshprocessor/
func BenchmarkSamplingProxyExports(b *testing.B) {
	ticks, spans := proxyExportTicks(b)
	m := ptrace.ProtoMarshaler{}
	var outSpans, outBytes int
	b.ReportAllocs()
	for b.Loop() {
		sink := runGateway(b, ticks)
		b.StopTimer()
		outSpans, outBytes = sink.SpanCount(), 0
		for _, td := range sink.AllTraces() {
			outBytes += m.TracesSize(td)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
	b.ReportMetric(float64(outBytes)/float64(outSpans), "out-B/span")
}

// BenchmarkGatewayFloor measures, on the load of make bench-pipelines, what
// issue 11's gateway target (CPU per span ≤ pass-through's) leaves for the
// gateway's own logic. Exporting a fifth of the spans saves part of
// pass-through's export (saving-ns/span: encoding and gzip of every span as
// received, in batches of 8 192 spans, less the same for the kept,
// normalized spans in the sampler's outputs). Against that stands pdata
// and exporterhelper work that the gateway's other targets require:
//   - buffer-ns/span: encoding every span, with its decision attributes,
//     into the sampler's buffer (the RSS target: decoded spans take about
//     twice the heap), and decoding the kept ones at the decision;
//   - queue-ns/span: the persistent sending queue (durability) encoding the
//     kept output and decoding it again to send it.
//
// All are per span received. floor/saving is (buffer + queue) / saving:
// what is left of the saving, 1 - floor/saving, is all the gateway's own
// logic (rules, grouping, normalizing the kept spans, the journal, the GC)
// may cost. buffer and queue are lower bounds: each request and output is
// one pdata call here, fewer than the gateway makes, and each part's
// garbage is collected between the parts, outside the times:
//
//	go test -run XXX -bench GatewayFloor -benchtime 5x ./processor/meshprocessor/
func BenchmarkGatewayFloor(b *testing.B) {
	ticks, spans := proxyExportTicks(b)
	kept := runGateway(b, ticks).AllTraces()
	keptIDs := map[pcommon.TraceID]bool{}
	for _, td := range kept {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, span := range ss.Spans().All() {
					keptIDs[span.TraceID()] = true
				}
			}
		}
	}
	cfg := createDefaultConfig().(*Config)
	cfg.Sampling.Enabled = true
	p, err := newMeshProcessor(processortest.NewNopSettings(metadata.Type), cfg)
	require.NoError(b, err)
	m, u := ptrace.ProtoMarshaler{}, ptrace.ProtoUnmarshaler{}
	var received, buffered []ptrace.Traces // as received; with decision attributes
	var keptBuffered [][]byte              // the kept spans as the sampler buffers them
	for _, reqs := range ticks {
		for _, raw := range reqs {
			td, err := u.UnmarshalTraces(raw)
			require.NoError(b, err)
			received = append(received, td)
			d := ptrace.NewTraces()
			td.CopyTo(d)
			p.normalizer.DecisionAttributes(d, "")
			buffered = append(buffered, d)
			k := ptrace.NewTraces()
			d.CopyTo(k)
			for _, rs := range k.ResourceSpans().All() {
				for _, ss := range rs.ScopeSpans().All() {
					ss.Spans().RemoveIf(func(s ptrace.Span) bool { return !keptIDs[s.TraceID()] })
				}
			}
			if k.SpanCount() > 0 {
				kb, _ := m.MarshalTraces(k)
				keptBuffered = append(keptBuffered, kb)
			}
		}
	}
	// Pass-through exports what the batch processor gathered: 8 192 spans.
	var batches []ptrace.Traces
	for i := 0; i < len(received); {
		batch := ptrace.NewTraces()
		for ; i < len(received) && batch.SpanCount() < 8192; i++ {
			received[i].ResourceSpans().MoveAndAppendTo(batch.ResourceSpans())
		}
		batches = append(batches, batch)
	}
	zw, err := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression) // grpc's gzip compressor's level
	require.NoError(b, err)
	export := func(tds []ptrace.Traces) {
		for _, td := range tds {
			buf, _ := m.MarshalTraces(td)
			zw.Reset(io.Discard)
			_, _ = zw.Write(buf)
			_ = zw.Close()
		}
	}
	var passthrough, gateway, sampler, queue time.Duration
	for b.Loop() {
		runtime.GC() // outside the times: the parts' costs do not mix
		start := time.Now()
		export(batches)
		passthrough += time.Since(start)

		runtime.GC()
		start = time.Now()
		export(kept)
		gateway += time.Since(start)

		runtime.GC()
		start = time.Now()
		for _, td := range buffered {
			_, _ = m.MarshalTraces(td)
		}
		for _, kb := range keptBuffered {
			_, _ = u.UnmarshalTraces(kb)
		}
		sampler += time.Since(start)

		runtime.GC()
		start = time.Now()
		for _, td := range kept {
			buf, _ := m.MarshalTraces(td)
			_, _ = u.UnmarshalTraces(buf)
		}
		queue += time.Since(start)
	}
	perSpan := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N*spans) }
	saving := perSpan(passthrough) - perSpan(gateway)
	b.ReportMetric(perSpan(passthrough), "passthrough-export-ns/span")
	b.ReportMetric(perSpan(gateway), "gateway-export-ns/span")
	b.ReportMetric(saving, "saving-ns/span")
	b.ReportMetric(perSpan(sampler), "buffer-ns/span")
	b.ReportMetric(perSpan(queue), "queue-ns/span")
	b.ReportMetric(perSpan(sampler+queue)/saving, "floor/saving")
}
