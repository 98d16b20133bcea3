package sampling

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/xpdata/entity"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"
)

// incomplete returns the first two spans of a trace: its root hop waits for
// a server span that does not come, so the trace stays buffered.
func incomplete(id uint64) ptrace.Traces {
	return buildTraces("a", hop(traceID(id, id), 0)[:2]...)
}

// stressed returns an engine whose stress relief is on.
func stressed(t *testing.T, probability float64) *testEngine {
	set := defaultSettings()
	set.MaxBufferedBytes = 16 << 10
	set.StressRelief = stressReliefSettings{Activate: 0.5, Deactivate: 0.25, MinActive: time.Minute, Probability: probability}
	te := newTestEngine(t, set)
	for i := uint64(1); !te.Stressed(); i++ {
		require.Less(t, i, uint64(10_000))
		require.NoError(t, te.Ingest(t.Context(), incomplete(i)))
	}
	te.after(100 * time.Millisecond)
	return te
}

// The crash of issue 9: stress relief with probability 0 logged its
// threshold, whose String panicked. The engine also keeps errors then.
func TestStressReliefAtProbabilityZero(t *testing.T) {
	te := stressed(t, 0)
	plain, failed := traceID(1<<40, 7), traceID(1<<40, 8) // ids stressed() did not use
	require.NoError(t, te.Ingest(t.Context(), buildTraces("a", hop(plain, 200)...)))
	require.NoError(t, te.Ingest(t.Context(), buildTraces("a", hop(failed, 503)...)))
	kept := te.sink.kept()
	require.Len(t, kept, 3, "only the error trace")
	for _, s := range kept {
		assert.Equal(t, failed, s.TraceID())
	}
	assert.Equal(t, int64(3), te.counter(t, "otelcol_processor_mesh_sampling_dropped_spans", "reason", "stress_relief"))
}

// Under stress relief a trace is decided on its first chunk; when its error
// comes in a later chunk, the rest of the trace is kept from there on.
func TestLateErrorRescuesDroppedTrace(t *testing.T) {
	te := stressed(t, 0.0001)
	id := traceID(0, 1) // randomness 1: dropped by trace id
	spans := hop(id, 500)
	require.NoError(t, te.Ingest(t.Context(), buildTraces("a", spans[:2]...)))
	assert.Empty(t, te.sink.kept())
	require.NoError(t, te.Ingest(t.Context(), buildTraces("b", spans[2])))
	kept := te.sink.kept()
	require.Len(t, kept, 1, "the error span is kept")
	assert.Equal(t, "ot=th:0", kept[0].TraceState().AsRaw(), "with the errors rule's threshold")
	// and so is what follows it
	require.NoError(t, te.Ingest(t.Context(), buildTraces("b", spanSpec{trace: id, id: 9, parent: 3, kind: ptrace.SpanKindInternal, seq: 9})))
	assert.Len(t, te.sink.kept(), 2)
}

// max_spans_per_trace: 2 decided error traces on their first two spans and
// dropped the error span as late.
func TestSpanLimitKeepsTheLateError(t *testing.T) {
	set := defaultSettings()
	set.MaxSpansPerTrace = 2
	te := newTestEngine(t, set)
	id := traceID(3, 3)
	spans := hop(id, 503)
	require.NoError(t, te.Ingest(t.Context(), buildTraces("a", spans[:2]...)))
	require.NoError(t, te.Ingest(t.Context(), buildTraces("b", spans[2])))
	kept := te.sink.kept()
	require.Len(t, kept, 1)
	assert.Equal(t, ptrace.StatusCodeError, kept[0].Status().Code())
}

// A root delivered twice (a retry of the agent tier) is one root: the trace
// completes and is decided after settle_time, not max_wait.
func TestDuplicateRootCompletes(t *testing.T) {
	set := defaultSettings()
	set.Rules.Baseline = 1
	te := newTestEngine(t, set)
	spans := hop(traceID(4, 4), 200)
	require.NoError(t, te.Ingest(t.Context(), buildTraces("a", spans...)))
	require.NoError(t, te.Ingest(t.Context(), buildTraces("a", spans[0])))
	te.after(1100 * time.Millisecond)
	assert.Len(t, te.sink.kept(), 4, "decided after the settle time; both copies passed on")
}

// A span with start time 0 lasted 55 years: the trace was always "slow".
func TestZeroStartIsNotSlow(t *testing.T) {
	set := defaultSettings()
	set.Rules.Latency = latencySettings{Probability: 1, Threshold: time.Second}
	te := newTestEngine(t, set)
	spans := hop(traceID(5, 5), 200)
	spans[1].start = 0
	spans[2].end = 0
	require.NoError(t, te.Ingest(t.Context(), buildTraces("a", spans...)))
	te.after(1100 * time.Millisecond)
	assert.Empty(t, te.sink.kept())
	spans = hop(traceID(6, 6), 200)
	spans[2].end += uint64(2 * time.Second)
	require.NoError(t, te.Ingest(t.Context(), buildTraces("a", spans...)))
	te.after(1100 * time.Millisecond)
	assert.Len(t, te.sink.kept(), 3, "a real slow hop still is")
}

// The trace's randomness is its explicit rv wherever it appears, not the
// randomness of whichever span came first.
func TestExplicitRandomnessOnALaterSpan(t *testing.T) {
	set := defaultSettings()
	set.Rules.Baseline = 0.5
	te := newTestEngine(t, set)
	id := traceID(0, 1) // trace-id randomness 1: below th:8
	spans := hop(id, 200)
	spans[2].tracestate = "ot=rv:f0000000000000;th:8"
	require.NoError(t, te.Ingest(t.Context(), buildTraces("a", spans[:2]...)))
	require.NoError(t, te.Ingest(t.Context(), buildTraces("b", spans[2])))
	te.after(1100 * time.Millisecond)
	kept := te.sink.kept()
	require.Len(t, kept, 3, "rv f0… passes th:8: kept as the upstream sampler kept it")
	for _, s := range kept {
		th, ok := threshold.Upstream(s.TraceState().AsRaw())
		require.True(t, ok)
		assert.Equal(t, threshold.FromProbability(0.5), th)
	}
}

// While the next consumer blocks the tick, ingest keeps the byte bound.
func TestByteBoundWhileConsumerBlocks(t *testing.T) {
	set := defaultSettings()
	set.MaxBufferedBytes = 64 << 10
	te := newTestEngine(t, set)
	block := make(chan struct{})
	te.sink.mu.Lock()
	te.sink.block, te.sink.entered = block, make(chan struct{}, 1)
	te.sink.mu.Unlock()
	// One complete error trace, kept by a tick that then blocks in the consumer.
	require.NoError(t, te.Ingest(t.Context(), buildTraces("a", hop(traceID(1, 1), 503)...)))
	te.clock.advance(2 * time.Second)
	tickDone := make(chan struct{})
	go func() { te.Tick(); close(tickDone) }()
	<-te.sink.entered
	// Ingest must not block on the blocked tick, nor buffer without bound:
	// it evicts (and drops: baseline 0) the oldest traces itself.
	for i := uint64(10); i < 3000; i++ {
		require.NoError(t, te.Ingest(t.Context(), incomplete(i)))
		require.LessOrEqual(t, te.BufferedBytes(), int64(64<<10), "within the bound after every request")
	}
	assert.Positive(t, te.counter(t, "otelcol_processor_mesh_sampling_forced_decisions", "reason", "memory"))
	close(block)
	<-tickDone
}

// Shutdown honours its context while the loop is blocked in the consumer,
// and counts what it could not pass on.
func TestShutdownHonoursContext(t *testing.T) {
	set := defaultSettings()
	set.Rules.Baseline = 1
	te := newTestEngine(t, set)
	block := make(chan struct{})
	defer close(block)
	te.sink.mu.Lock()
	te.sink.block, te.sink.entered = block, make(chan struct{}, 1)
	te.sink.mu.Unlock()
	require.NoError(t, te.Ingest(t.Context(), buildTraces("a", hop(traceID(1, 1), 200)...)))
	require.NoError(t, te.Ingest(t.Context(), incomplete(2)))
	te.clock.advance(2 * time.Second)
	go te.Tick() // decides the first trace and blocks in the consumer
	<-te.sink.entered
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := te.Shutdown(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second, "returns once its context is done")
	assert.Zero(t, te.BufferedBytes(), "everything decided")
	assert.Equal(t, int64(2), te.counter(t, "otelcol_processor_mesh_sampling_dropped_spans", "reason", "shutdown"), "the buffered trace kept at shutdown could not be passed on: counted")
}

// Spans that arrive while or after the engine shuts down are decided at
// once, not buffered for a loop that no longer runs.
func TestSpansAfterShutdownAreDecided(t *testing.T) {
	set := defaultSettings()
	set.Rules.Baseline = 1
	te := newTestEngine(t, set)
	require.NoError(t, te.Shutdown(t.Context()))
	require.NoError(t, te.Ingest(t.Context(), incomplete(1)))
	assert.Len(t, te.sink.kept(), 2)
	assert.Zero(t, te.BufferedBytes())
}

// The byte bound counts what a buffered trace really holds: after a GC, the
// heap retained by buffered traces is within what BufferedBytes reports.
func TestBufferedBytesCoverTheHeap(t *testing.T) {
	set := defaultSettings()
	set.Shards = 1
	te := newTestEngine(t, set)
	const n = 20_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		require.NoError(t, te.Ingest(t.Context(), incomplete(uint64(i+1))))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	retained := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("retained %d B, counted %d B (%.0f B per trace)", retained, te.BufferedBytes(), float64(te.BufferedBytes())/n)
	assert.GreaterOrEqual(t, te.BufferedBytes(), retained*9/10)
}

// The kept spans of one pod go out under one copy of its resource, and of
// its scope, however many requests and traces they came in: a proxy's
// requests repeat its resource, in any attribute order. Other resources,
// other scopes and scopes with attributes stay apart.
func TestKeptSpansOfAPodShareOneResource(t *testing.T) {
	te := newTestEngine(t, defaultSettings())
	request := func(pod string, reversed bool, scope string, scopeAttr bool, ids ...uint64) ptrace.Traces {
		var specs []spanSpec
		for _, id := range ids {
			specs = append(specs, hop(traceID(8, id), 500)...)
		}
		td := buildTraces("proxy", specs...)
		res := td.ResourceSpans().At(0).Resource().Attributes()
		if reversed {
			res.Clear()
			res.PutStr("k8s.pod.name", pod)
			res.PutStr("service.name", "proxy")
		} else {
			res.PutStr("k8s.pod.name", pod)
		}
		sc := td.ResourceSpans().At(0).ScopeSpans().At(0).Scope()
		sc.SetName(scope)
		if scopeAttr {
			sc.Attributes().PutStr("k", "v")
		}
		return td
	}
	require.NoError(t, te.Ingest(t.Context(), request("pod-1", false, "envoy", false, 1, 2)))
	require.NoError(t, te.Ingest(t.Context(), request("pod-1", true, "envoy", false, 3, 4)))
	require.NoError(t, te.Ingest(t.Context(), request("pod-1", false, "other", false, 5, 6)))
	require.NoError(t, te.Ingest(t.Context(), request("pod-1", false, "other", true, 7, 8)))
	require.NoError(t, te.Ingest(t.Context(), request("pod-2", false, "envoy", false, 9, 10)))
	te.after(2 * time.Second)

	require.Len(t, te.sink.batches(), 1)
	got := map[string]map[string]int{} // pod -> scope -> spans
	scopes := 0
	out := te.sink.batches()[0]
	for _, rs := range out.ResourceSpans().All() {
		pod, _ := rs.Resource().Attributes().Get("k8s.pod.name")
		require.NotContains(t, got, pod.Str(), "one ResourceSpans per pod")
		assert.Equal(t, 2, rs.Resource().Attributes().Len())
		got[pod.Str()] = map[string]int{}
		for _, ss := range rs.ScopeSpans().All() {
			scopes++
			name := ss.Scope().Name()
			if ss.Scope().Attributes().Len() > 0 {
				name += "+attrs"
			}
			got[pod.Str()][name] += ss.Spans().Len()
		}
	}
	assert.Equal(t, map[string]map[string]int{
		"pod-1": {"envoy": 12, "other": 6, "other+attrs": 6},
		"pod-2": {"envoy": 6},
	}, got)
	assert.Equal(t, 5, scopes, "the scope with attributes once per trace, the others once")
	assert.Equal(t, 30, out.SpanCount())
}

func TestFingerprintIgnoresOrder(t *testing.T) {
	a, b, c := pcommon.NewMap(), pcommon.NewMap(), pcommon.NewMap()
	a.PutStr("service.name", "x")
	a.PutInt("n", 1)
	b.PutInt("n", 1)
	b.PutStr("service.name", "x")
	c.PutStr("n", "1")
	c.PutStr("service.name", "x")
	assert.Equal(t, fingerprint(a), fingerprint(b))
	assert.NotEqual(t, fingerprint(a), fingerprint(c), "an int and a string that print the same")
	b.PutStr("service.name", "y")
	assert.NotEqual(t, fingerprint(a), fingerprint(b))
}

// Two resources are merged on their content only when pdata can compare
// all of it: not with entity references.
func TestSameResource(t *testing.T) {
	var m ptrace.ProtoMarshaler
	resource := func(fill func(pcommon.Resource)) *sharedResource {
		r := pcommon.NewResource()
		r.Attributes().PutStr("service.name", "x")
		fill(r)
		return newSharedResource(r, &m)
	}
	plain := resource(func(pcommon.Resource) {})
	withRef := func(id string) *sharedResource {
		return resource(func(r pcommon.Resource) {
			ref := entity.ResourceEntityRefs(r).AppendEmpty()
			ref.SetType("k8s.pod")
			ref.IdKeys().Append(id)
		})
	}
	a, b := withRef("k8s.pod.uid"), withRef("k8s.node.id")
	assert.True(t, plain.sameAs(resource(func(pcommon.Resource) {})))
	assert.False(t, plain.sameAs(resource(func(r pcommon.Resource) { r.SetDroppedAttributesCount(1) })))
	assert.False(t, plain.sameAs(resource(func(r pcommon.Resource) { r.Attributes().PutStr("k", "v") })))
	require.Equal(t, a.size, b.size)
	assert.False(t, a.sameAs(b), "entity references of the same size, not compared")
	assert.True(t, a.sameAs(a))
}

// A proxy's request carries its spans of many traces under one resource:
// their chunks are buffered without it and share one copy, which every
// span passed on gets back, buffered or late, and which is counted in the
// buffered bytes until the last of those traces is decided.
func TestResourceSharedByTheTracesOfARequest(t *testing.T) {
	te := newTestEngine(t, defaultSettings())
	withPod := func(td ptrace.Traces, pod string) ptrace.Traces {
		td.ResourceSpans().At(0).Resource().Attributes().PutStr("k8s.pod.name", pod)
		return td
	}
	failed, plain, failed2 := traceID(9, 1), traceID(9, 2), traceID(9, 3)
	specs := append(append(hop(failed, 500), hop(plain, 200)...), hop(failed2, 503)...)
	require.NoError(t, te.Ingest(t.Context(), withPod(buildTraces("proxy", specs...), "pod-1")))
	require.Positive(t, te.BufferedBytes())

	te.after(2 * time.Second)
	require.Len(t, te.sink.kept(), 6, "the two error traces")
	for _, td := range te.sink.batches() {
		for _, rs := range td.ResourceSpans().All() {
			assert.Equal(t, map[string]any{"service.name": "proxy", "k8s.pod.name": "pod-1"}, rs.Resource().Attributes().AsRaw())
		}
	}
	assert.Zero(t, te.BufferedBytes(), "the shared resource is released with its last trace")

	// A late span of a kept trace beside a new trace: the late one is passed
	// on at once with its resource, the new one buffered without it.
	fresh := traceID(9, 4)
	late := spanSpec{trace: failed, id: 9, parent: 3, kind: ptrace.SpanKindInternal, seq: 9}
	require.NoError(t, te.Ingest(t.Context(), withPod(buildTraces("proxy", append([]spanSpec{late}, hop(fresh, 200)...)...), "pod-2")))
	spans := te.sink.kept()
	require.Len(t, spans, 7)
	batches := te.sink.batches()
	last := batches[len(batches)-1].ResourceSpans().At(0).Resource().Attributes().AsRaw()
	assert.Equal(t, map[string]any{"service.name": "proxy", "k8s.pod.name": "pod-2"}, last)
	require.Positive(t, te.BufferedBytes())
	te.after(2 * time.Second)
	assert.Len(t, te.sink.kept(), 7, "the plain trace is dropped")
	assert.Zero(t, te.BufferedBytes())
}
