package meshprocessor

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadata"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadatatest"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/sampling"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testSampler is a mesh processor with sampling on, a fake clock and a sink.
type testSampler struct {
	t     *testing.T
	sp    *samplingProcessor
	clock *fakeClock
	sink  *consumertest.TracesSink
	tel   *componenttest.Telemetry
}

func newTestSampler(t *testing.T, mutate func(*sampling.Config)) *testSampler {
	cfg := createDefaultConfig().(*Config)
	cfg.Sampling.Enabled = true
	cfg.Sampling.NumShards = 4
	mutate(&cfg.Sampling)
	require.NoError(t, confmap.Validate(cfg))
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := metadatatest.NewSettings(tel)
	p, err := newMeshProcessor(set, cfg)
	require.NoError(t, err)
	ts := &testSampler{t: t, clock: &fakeClock{now: time.Unix(1_700_000_000, 0)}, sink: new(consumertest.TracesSink), tel: tel}
	ts.sp = newSamplingProcessor(set, cfg, p, ts.sink, ts.clock)
	require.NoError(t, ts.sp.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { _ = ts.sp.Shutdown(context.Background()) })
	return ts
}

// send passes a copy of td: the processor takes ownership of what it gets
// (a resource holding one trace moves into the buffer whole), and the tests
// read td afterwards.
func (ts *testSampler) send(td ptrace.Traces) {
	cp := ptrace.NewTraces()
	td.CopyTo(cp)
	require.NoError(ts.t, ts.sp.ConsumeTraces(ts.t.Context(), cp))
}

// after advances the clock and runs one decision round.
func (ts *testSampler) after(d time.Duration) {
	ts.clock.Advance(d)
	ts.sp.engine.Tick()
}

func (ts *testSampler) keptSpans() []ptrace.Span {
	var out []ptrace.Span
	for _, td := range ts.sink.AllTraces() {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// keepAll keeps every trace so that decisions are visible at the sink.
func keepAll(s *sampling.Config) { s.Rules.Baseline.Probability = 1 }

// splitByResource returns one Traces per ResourceSpans (per proxy).
func splitByResource(td ptrace.Traces) []ptrace.Traces {
	var out []ptrace.Traces
	for _, rs := range td.ResourceSpans().All() {
		one := ptrace.NewTraces()
		rs.CopyTo(one.ResourceSpans().AppendEmpty())
		out = append(out, one)
	}
	return out
}

func TestCompletenessOutOfOrderAcrossBatches(t *testing.T) {
	for _, mesh := range []meshgen.Mesh{meshgen.Istio, meshgen.Linkerd, meshgen.Envoy} {
		t.Run(string(mesh), func(t *testing.T) {
			ts := newTestSampler(t, keepAll)
			tr := meshgen.New(meshgen.Options{Mesh: mesh, Seed: 7}).Next()
			parts := splitByResource(tr.Traces)
			require.Greater(t, len(parts), 1)
			// Deepest proxies first, the root's proxy last: until the last
			// batch some client hop or the tree's root is missing.
			for i := len(parts) - 1; i >= 1; i-- {
				ts.send(parts[i])
				ts.after(2 * time.Second)
				assert.Empty(t, ts.keptSpans(), "decided before complete (%d batches left)", i)
			}
			ts.send(parts[0])
			ts.after(500 * time.Millisecond)
			assert.Empty(t, ts.keptSpans(), "decided within the settle time")
			ts.after(600 * time.Millisecond)
			spans := ts.keptSpans()
			require.Len(t, spans, tr.Traces.SpanCount(), "the whole trace is kept")
			roots := 0
			for _, s := range spans {
				assert.Equal(t, "ot=th:0", s.TraceState().AsRaw())
				if c, ok := s.Attributes().Get(sampling.AttrComplete); ok {
					roots++
					assert.True(t, c.Bool())
				}
			}
			assert.Equal(t, 1, roots)
		})
	}
}

func TestMissingServerHopWaitsForMaxWait(t *testing.T) {
	ts := newTestSampler(t, keepAll)
	tr := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, Seed: 3}).Next()
	// Drop the details server span: its client hop stays unmatched.
	removed := false
	for _, rs := range tr.Traces.ResourceSpans().All() {
		rs.ScopeSpans().At(0).Spans().RemoveIf(func(s ptrace.Span) bool {
			v, _ := s.Attributes().Get("istio.canonical_service")
			if !removed && v.Str() == "details" && s.Kind() == ptrace.SpanKindServer {
				removed = true
				return true
			}
			return false
		})
	}
	require.True(t, removed)
	n := tr.Traces.SpanCount()
	ts.send(tr.Traces)
	ts.after(10 * time.Second)
	assert.Empty(t, ts.keptSpans())
	ts.after(21 * time.Second)
	spans := ts.keptSpans()
	require.Len(t, spans, n)
	for _, s := range spans {
		if c, ok := s.Attributes().Get(sampling.AttrComplete); ok {
			assert.False(t, c.Bool(), "the root says the trace was incomplete")
		}
	}
	metadatatest.AssertEqualProcessorMeshSamplingForcedDecisions(t, ts.tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("reason", "max_wait")), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}

func TestProxyFailureHopNeedsNoServerSpan(t *testing.T) {
	ts := newTestSampler(t, func(*sampling.Config) {})
	tr := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, FlagRate: 1, Seed: 11}).Next()
	require.True(t, tr.Failure)
	ts.send(tr.Traces)
	ts.after(1100 * time.Millisecond)
	spans := ts.keptSpans()
	require.Len(t, spans, tr.Traces.SpanCount(), "a UF/UH trace is complete without the unreachable server, and kept")
}

// ruleCase sends one trace and checks which rule decided.
func TestRules(t *testing.T) {
	none := func(s *sampling.Config) {
		s.Rules.Baseline.Probability = 0
		s.Rules.EdgeCoverage.MinTraces = 0
		s.RecordRule = true
	}
	tests := []struct {
		name   string
		opts   meshgen.Options
		mutate func(*sampling.Config)
		rule   string // "" = dropped
	}{
		{"errors", meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 1}, none, "errors"},
		{"mesh failure", meshgen.Options{Mesh: meshgen.Istio, FlagRate: 1}, func(s *sampling.Config) {
			none(s)
			s.Rules.Errors.Probability = 0 // errors come first in the order and would decide
		}, "mesh_failures"},
		{"errors before mesh failures", meshgen.Options{Mesh: meshgen.Istio, FlagRate: 1}, none, "errors"},
		{"slow", meshgen.Options{Mesh: meshgen.Istio, SlowRate: 1}, none, "latency"},
		{"slow hop per destination", meshgen.Options{Mesh: meshgen.Istio}, func(s *sampling.Config) {
			none(s)
			s.Rules.Latency.PerDestination = map[string]time.Duration{"details": time.Millisecond}
		}, "latency"},
		{"canary", meshgen.Options{Mesh: meshgen.Istio, CanaryShare: 1}, none, "canary"},
		{"attribute", meshgen.Options{Mesh: meshgen.Istio}, func(s *sampling.Config) {
			none(s)
			s.Rules.Attributes = []sampling.AttributeRuleConfig{{Name: "gw", Key: "mesh.proxy.mode", Scope: "resource", Values: []string{"gateway"}}}
		}, "attribute/gw"},
		{"edge coverage", meshgen.Options{Mesh: meshgen.Istio}, func(s *sampling.Config) {
			none(s)
			s.Rules.EdgeCoverage.MinTraces = 1
		}, "edge_coverage"},
		{"plain traffic dropped", meshgen.Options{Mesh: meshgen.Istio}, none, ""},
		{"disabled rule", meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 1}, func(s *sampling.Config) {
			none(s)
			s.Rules.Errors.Probability = 0
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestSampler(t, tt.mutate)
			tt.opts.Seed = 5
			tr := meshgen.New(tt.opts).Next()
			ts.send(tr.Traces)
			ts.after(31 * time.Second)
			spans := ts.keptSpans()
			if tt.rule == "" {
				assert.Empty(t, spans)
				return
			}
			require.Len(t, spans, tr.Traces.SpanCount())
			r, _ := spans[0].Attributes().Get(sampling.AttrRule)
			assert.Equal(t, tt.rule, r.Str())
		})
	}
}

func TestRetryEndingIn200IsAMeshFailure(t *testing.T) {
	ts := newTestSampler(t, func(s *sampling.Config) { s.Rules.Baseline.Probability = 0; s.Rules.EdgeCoverage.MinTraces = 0 })
	tr := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, Seed: 1}).Next()
	tr.Traces.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1).Attributes().PutStr("retry.count", "2")
	ts.send(tr.Traces)
	ts.after(2 * time.Second)
	assert.Len(t, ts.keptSpans(), tr.Traces.SpanCount())
}

func TestProbabilityAndUpstreamThreshold(t *testing.T) {
	ts := newTestSampler(t, func(s *sampling.Config) { s.Rules.Baseline.Probability = 0.5; s.Rules.EdgeCoverage.MinTraces = 0 })
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Envoy, Seed: 9})
	kept, upstreamKept := 0, 0
	for range 300 {
		tr := g.Next()
		r := threshold.Randomness(tr.ID, "")
		// An upstream sampler kept some traces at 25% (th:c): only those it
		// could keep, so their randomness passes 0xc0000000000000.
		upstream := r >= 0xc0000000000000 && (r>>8)%2 == 0
		if upstream {
			setTraceState(tr.Traces, "ot=th:c")
		}
		n := tr.Traces.SpanCount()
		ts.send(tr.Traces)
		ts.after(1100 * time.Millisecond)
		spans := ts.keptSpans()
		want := 0
		if r >= 0x80000000000000 { // our 50%: th:8
			want = n
		}
		require.Equal(t, want, len(spans)-kept, "consistent: kept iff randomness >= threshold")
		for _, s := range spans[kept:] {
			if upstream {
				upstreamKept++
				assert.Equal(t, "ot=th:c", s.TraceState().AsRaw(), "the upstream threshold is higher: it stays")
			} else {
				assert.Equal(t, "ot=th:8", s.TraceState().AsRaw())
			}
		}
		kept = len(spans)
	}
	assert.Positive(t, kept)
	assert.Positive(t, upstreamKept)
}

func setTraceState(td ptrace.Traces, ts string) {
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				s.TraceState().FromRaw(ts)
			}
		}
	}
}

func TestLateSpans(t *testing.T) {
	ts := newTestSampler(t, func(s *sampling.Config) { s.Rules.Baseline.Probability = 0; s.Rules.EdgeCoverage.MinTraces = 0 })
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Envoy, Seed: 2})
	keep := meshgen.New(meshgen.Options{Mesh: meshgen.Envoy, ErrorRate: 1, Seed: 3}).Next()
	drop := g.Next()
	lateKeep := splitByResource(keep.Traces)
	lateDrop := splitByResource(drop.Traces)
	// Everything but the service's own proxy: complete without it? No: its
	// server span matches the front proxy's client hop, so send a copy of the
	// whole trace first and the service span again later as a late span.
	ts.send(keep.Traces)
	ts.send(drop.Traces)
	ts.after(1100 * time.Millisecond)
	n := len(ts.keptSpans())
	require.Equal(t, keep.Traces.SpanCount(), n)

	ts.send(lateKeep[1])
	ts.send(lateDrop[1])
	spans := ts.keptSpans()
	require.Len(t, spans, n+1, "the late span of the kept trace is passed on at once")
	assert.Equal(t, "ot=th:0", spans[n].TraceState().AsRaw(), "with the trace's threshold")
	assert.Equal(t, keep.ID, spans[n].TraceID())
	metadatatest.AssertEqualProcessorMeshSamplingLateSpans(t, ts.tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("source", "kept_cache"), attribute.String("outcome", "kept")), Value: 1},
		{Attributes: attribute.NewSet(attribute.String("source", "dropped_cache"), attribute.String("outcome", "dropped")), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}

func TestMemoryBoundAndStressRelief(t *testing.T) {
	ts := newTestSampler(t, func(s *sampling.Config) {
		s.MaxBufferedBytes = 64 << 10
		s.Rules.Baseline.Probability = 0
		s.Rules.EdgeCoverage.MinTraces = 0
		s.StressRelief.MinActive = 5 * time.Second
		s.StressRelief.Probability = 0.5
	})
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, Seed: 4})
	// Incomplete traces (the root's proxy held back) would pile up past the
	// bound: it holds at ingest, without waiting for a tick.
	for range 200 {
		parts := splitByResource(g.Next().Traces)
		for _, p := range parts[1:] {
			ts.send(p)
			assert.LessOrEqual(t, ts.sp.engine.BufferedBytes(), int64(64<<10), "oldest traces decided down to the bound")
		}
	}
	assert.True(t, ts.sp.engine.Stressed(), "the buffer is full: stress relief on")
	ts.after(100 * time.Millisecond)
	assert.LessOrEqual(t, ts.sp.engine.BufferedBytes(), int64(64<<10))

	// While stressed, new traces are decided at once by trace id.
	before := len(ts.keptSpans())
	kept := 0
	for range 100 {
		tr := g.Next()
		ts.send(tr.Traces)
		if threshold.Randomness(tr.ID, "") >= 0x80000000000000 {
			kept += tr.Traces.SpanCount()
		}
	}
	got := ts.keptSpans()[before:]
	assert.Len(t, got, kept, "kept by trace id alone, without buffering")
	for _, s := range got {
		assert.Equal(t, "ot=th:8", s.TraceState().AsRaw(), "the stress-relief threshold is recorded")
	}
	// Pressure falls once buffered traces time out; relief ends after its minimum time.
	ts.after(31 * time.Second)
	assert.False(t, ts.sp.engine.Stressed())
	metadatatest.AssertEqualProcessorMeshSamplingStressRelief(t, ts.tel, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
}

func TestShutdownDecidesBufferedTraces(t *testing.T) {
	ts := newTestSampler(t, keepAll)
	tr := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, Seed: 8}).Next()
	ts.send(tr.Traces)
	require.NoError(t, ts.sp.Shutdown(t.Context()))
	assert.Len(t, ts.keptSpans(), tr.Traces.SpanCount())
}

// TestBaselineStatistics: with baseline probability p, the kept fraction of
// traces is p within 5 standard deviations, and the sum of adjusted counts
// (1/p from th) estimates the true number of traces per edge within 10%.
func TestBaselineStatistics(t *testing.T) {
	const p, n = 0.2, 20000
	ts := newTestSampler(t, func(s *sampling.Config) {
		s.Rules.Baseline.Probability = p
		s.Rules.EdgeCoverage.MinTraces = 0
	})
	rnd := rand.New(rand.NewPCG(1, 2))
	edges := []string{"reviews", "ratings", "details", "rare"}
	weights := []float64{0.5, 0.3, 0.15, 0.05}
	truth := map[string]int{}
	for i := range n {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "productpage")
		span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		var id pcommon.TraceID
		for j := range id {
			id[j] = byte(rnd.Uint32())
		}
		span.SetTraceID(id)
		span.SetSpanID(pcommon.SpanID{1, byte(i), byte(i >> 8), 4, 5, 6, 7, 8})
		x, dest := rnd.Float64(), edges[len(edges)-1]
		for k, w := range weights {
			if x < w {
				dest = edges[k]
				break
			}
			x -= w
		}
		truth[dest]++
		span.Attributes().PutStr("mesh.destination.service", dest)
		ts.send(td)
		if i%1000 == 999 {
			ts.after(2 * time.Second)
		}
	}
	ts.after(2 * time.Second)
	estimate := map[string]float64{}
	spans := ts.keptSpans()
	for _, s := range spans {
		th, ok := threshold.Upstream(s.TraceState().AsRaw())
		require.True(t, ok)
		d, _ := s.Attributes().Get("mesh.destination.service")
		estimate[d.Str()] += th.AdjustedCount()
	}
	frac := float64(len(spans)) / n
	sigma := 0.002828 // sqrt(p(1-p)/n)
	assert.InDelta(t, p, frac, 5*sigma, "kept fraction")
	for _, e := range edges {
		assert.InEpsilon(t, float64(truth[e]), estimate[e], 0.10+3/float64(truth[e]), "edge %s: %d traces, estimate %.0f", e, truth[e], estimate[e])
	}
}

func TestSamplingProcessorFromFactory(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Sampling.Enabled = true
	sink := new(consumertest.TracesSink)
	p, err := NewFactory().CreateTraces(t.Context(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	_, isSampler := p.(*samplingProcessor)
	assert.True(t, isSampler)
	require.NoError(t, p.Start(t.Context(), componenttest.NewNopHost()))
	tr := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 1, Seed: 1}).Next()
	require.NoError(t, p.ConsumeTraces(t.Context(), tr.Traces))
	require.NoError(t, p.Shutdown(t.Context()))
	assert.Equal(t, 9, sink.SpanCount()-0, "decided and passed on at shutdown at the latest")
}

func TestSpanLimitDecidesEarly(t *testing.T) {
	ts := newTestSampler(t, func(s *sampling.Config) {
		keepAll(s)
		s.MaxSpansPerTrace = 5
	})
	tr := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, Seed: 12}).Next()
	parts := splitByResource(tr.Traces)
	sent := 0
	for _, p := range parts {
		sent += p.SpanCount()
		ts.send(p)
		if sent >= 5 {
			break
		}
	}
	// Decided at ingest, without a tick; later spans follow the decision.
	assert.Len(t, ts.keptSpans(), sent)
	metadatatest.AssertEqualProcessorMeshSamplingForcedDecisions(t, ts.tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("reason", "span_limit")), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}

func TestRateLimitProtectsErrors(t *testing.T) {
	ts := newTestSampler(t, func(s *sampling.Config) {
		keepAll(s)
		s.Rules.EdgeCoverage.MinTraces = 0
		s.RateLimit.TracesPerSecond = 2
	})
	plain := meshgen.New(meshgen.Options{Mesh: meshgen.Envoy, Seed: 20})
	errs := meshgen.New(meshgen.Options{Mesh: meshgen.Envoy, ErrorRate: 1, Seed: 21})
	for range 5 {
		ts.send(plain.Next().Traces)
	}
	for range 3 {
		ts.send(errs.Next().Traces)
	}
	ts.after(1100 * time.Millisecond) // the bucket holds one second of tokens: 2
	kept := map[pcommon.TraceID]bool{}
	errorTraces := 0
	for _, s := range ts.keptSpans() {
		if !kept[s.TraceID()] {
			kept[s.TraceID()] = true
			if s.Status().Code() == ptrace.StatusCodeError {
				errorTraces++
			}
		}
	}
	assert.Equal(t, 3, errorTraces, "errors pass the limit")
	assert.LessOrEqual(t, len(kept)-errorTraces, 2, "plain traces get at most the 2 tokens of a second")
}

func TestRefusedKeptSpansAreCounted(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Sampling.Enabled = true
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	p, err := newMeshProcessor(metadatatest.NewSettings(tel), cfg)
	require.NoError(t, err)
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	sp := newSamplingProcessor(metadatatest.NewSettings(tel), cfg, p, consumertest.NewErr(errors.New("backend down")), clock)
	require.NoError(t, sp.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { _ = sp.Shutdown(context.Background()) })

	tr := meshgen.New(meshgen.Options{Mesh: meshgen.Envoy, ErrorRate: 1, Seed: 1}).Next()
	n := tr.Traces.SpanCount()
	require.NoError(t, sp.ConsumeTraces(t.Context(), tr.Traces))
	clock.Advance(2 * time.Second)
	sp.engine.Tick()
	metadatatest.AssertEqualProcessorMeshSamplingRefusedSpans(t, tel, []metricdata.DataPoint[int64]{{Value: int64(n)}}, metricdatatest.IgnoreTimestamp())
}

func TestArrivalQueueStaysBounded(t *testing.T) {
	ts := newTestSampler(t, func(s *sampling.Config) { s.NumShards = 1 })
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Envoy, Seed: 30})
	for range 30 {
		for range 100 {
			ts.send(g.Next().Traces)
		}
		ts.after(2 * time.Second)
	}
	assert.Zero(t, ts.sp.engine.BufferedBytes())
	assert.LessOrEqual(t, ts.sp.engine.QueuedIDs(), 1024+100, "decided traces leave the arrival-order queue")
}

// Envoy's Zipkin tracer (shared_span_context, its default outside Istio)
// gives the server span the client span's id: the hop is matched all the same.
func TestSharedSpanContextHopIsComplete(t *testing.T) {
	ts := newTestSampler(t, keepAll)
	tr := meshgen.New(meshgen.Options{Mesh: meshgen.Envoy, Seed: 40}).Next()
	front := tr.Traces.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	egress := front.At(1)
	server := tr.Traces.ResourceSpans().At(1).ScopeSpans().At(0).Spans().At(0)
	server.SetSpanID(egress.SpanID())
	server.SetParentSpanID(egress.ParentSpanID())
	n := tr.Traces.SpanCount()
	ts.send(tr.Traces)
	ts.after(1100 * time.Millisecond)
	assert.Len(t, ts.keptSpans(), n, "complete after the settle time, not max_wait")
}

// A call to a host outside the mesh (ServiceEntry, egress) returns no server span.
func TestExternalHopNeedsNoServerSpan(t *testing.T) {
	ts := newTestSampler(t, keepAll)
	tr := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, Seed: 41}).Next()
	spans := tr.Traces.ResourceSpans().At(1).ScopeSpans().At(0).Spans() // productpage's proxy
	ext := spans.AppendEmpty()
	spans.At(0).CopyTo(ext)
	ext.SetKind(ptrace.SpanKindClient)
	ext.SetSpanID(pcommon.SpanID{9, 9, 9, 9, 9, 9, 9, 9})
	ext.SetParentSpanID(spans.At(0).SpanID())
	ext.Attributes().PutStr("upstream_cluster", "outbound|443||api.stripe.com")
	ext.Attributes().PutStr("upstream_cluster.name", "outbound|443||api.stripe.com;")
	n := tr.Traces.SpanCount()
	ts.send(tr.Traces)
	ts.after(1100 * time.Millisecond)
	assert.Len(t, ts.keptSpans(), n)
}

func TestRateBelowOnePerSecondStillKeeps(t *testing.T) {
	ts := newTestSampler(t, func(s *sampling.Config) {
		keepAll(s)
		s.Rules.EdgeCoverage.MinTraces = 0
		s.RateLimit.TracesPerSecond = 0.5
		s.RateLimit.SpansPerSecond = 1 // less than one trace: the bucket still holds the largest trace
	})
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Envoy, Seed: 42})
	kept := map[pcommon.TraceID]bool{}
	for range 10 {
		ts.send(g.Next().Traces)
		ts.send(g.Next().Traces)
		ts.after(2 * time.Second)
	}
	for _, s := range ts.keptSpans() {
		kept[s.TraceID()] = true
	}
	assert.Equal(t, 10, len(kept), "one trace every 2 s of the 2 sent")
}

func TestShutdownWithExpiredContextDecidesEverything(t *testing.T) {
	ts := newTestSampler(t, keepAll)
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Envoy, Seed: 43})
	for range 20 {
		ts.send(g.Next().Traces)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_ = ts.sp.Shutdown(ctx)
	assert.Zero(t, ts.sp.engine.BufferedBytes())
	metadatatest.AssertEqualProcessorMeshSamplingTracesBuffered(t, ts.tel, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
}

func TestKeptSpansLeaveInBoundedExports(t *testing.T) {
	ts := newTestSampler(t, func(s *sampling.Config) { keepAll(s); s.NumShards = 1 })
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, Seed: 44})
	total := 0
	for range 2500 {
		tr := g.Next()
		total += tr.Traces.SpanCount()
		ts.send(tr.Traces)
	}
	ts.after(2 * time.Second)
	require.Equal(t, total, ts.sink.SpanCount())
	require.Greater(t, len(ts.sink.AllTraces()), 1)
	for _, td := range ts.sink.AllTraces() {
		assert.LessOrEqual(t, td.SpanCount(), 8192+9, "one export holds at most 8192 spans (plus the trace that crossed it)")
	}
}

// TestKeptSpansNormalizedInFull: the gateway writes on arriving Envoy spans
// only what the rules read, and the rest once they are kept; what it passes
// on is what normalizing alone gives (plus the sampler's tracestate and
// completeness flag).
func TestKeptSpansNormalizedInFull(t *testing.T) {
	ts := newTestSampler(t, func(c *sampling.Config) { c.Rules.Baseline.Probability = 1 })
	require.True(t, ts.sp.deferred)
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.2, FlagRate: 0.2, CanaryShare: 0.3, Seed: 21})
	in := ptrace.NewTraces()
	for range 30 {
		g.Next().Traces.ResourceSpans().MoveAndAppendTo(in.ResourceSpans())
	}
	want := ptrace.NewTraces()
	in.CopyTo(want)
	_, err := ts.sp.mesh.processTraces(t.Context(), want)
	require.NoError(t, err)
	ts.send(in)
	ts.after(2 * time.Second)

	type spanOut struct {
		name   string
		status ptrace.StatusCode
		attrs  map[string]any
		res    map[string]any
	}
	collect := func(tds ...ptrace.Traces) map[pcommon.SpanID]spanOut {
		m := map[pcommon.SpanID]spanOut{}
		for _, td := range tds {
			for _, rs := range td.ResourceSpans().All() {
				for _, ss := range rs.ScopeSpans().All() {
					for _, span := range ss.Spans().All() {
						attrs := span.Attributes().AsRaw()
						delete(attrs, sampling.AttrComplete)
						m[span.SpanID()] = spanOut{span.Name(), span.Status().Code(), attrs, rs.Resource().Attributes().AsRaw()}
					}
				}
			}
		}
		return m
	}
	got, expected := collect(ts.sink.AllTraces()...), collect(want)
	require.Len(t, got, len(expected), "every span kept")
	for id, w := range expected {
		assert.Equal(t, w, got[id], "span %s", id)
	}
}
