package sampling

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"
)

// The engine's stream invariants, over random span streams (duplicates, out
// of order, zero ids and timestamps, huge traces, a refusing consumer,
// tiny buffers and caches, stress relief, rate limits):
//   - every accepted span is passed on once, refused by the next consumer,
//     or counted in processor_mesh_sampling_dropped_spans;
//   - buffered bytes stay within the bound after every request, and are
//     zero after shutdown;
//   - `th` only rises: a kept span's threshold is at least the one it came with;
//   - errors are kept first: every span with an error is passed on (the
//     errors rule keeps with probability 1, whatever else happens).

// FuzzEngine runs the invariants on a stream decoded from the input.
// go test -run '^$' -fuzz FuzzEngine ./processor/meshprocessor/internal/sampling
func FuzzEngine(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x00\x10\x20\x30\x03\x05\x07"))
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x07\x07\x07\x03\x05\x05\x04\x03"))
	f.Fuzz(func(t *testing.T, data []byte) { checkInvariants(t, data) })
}

// TestEngineInvariants runs the invariants on many random streams (the
// fuzzer's seeds run too, in FuzzEngine).
func TestEngineInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 100
	if testing.Short() {
		n = 20
	}
	for i := range n {
		data := make([]byte, 64+rng.IntN(1500))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkInvariants(t, data) })
	}
}

// bytes reads the input; exhausted, it gives zeros.
type bytes struct {
	data []byte
	i    int
}

func (b *bytes) next() byte {
	if b.i >= len(b.data) {
		return 0
	}
	b.i++
	return b.data[b.i-1]
}

func (b *bytes) more() bool { return b.i < len(b.data) }

func (b *bytes) prob() float64 { return float64(b.next()) / 255 }

func settingsFrom(b *bytes) engineSettings {
	set := engineSettings{
		SettleTime: time.Second, MaxWait: 5 * time.Second,
		Shards:           1 + int(b.next()%4),
		MaxBufferedBytes: 2048 << (b.next() % 5),
		MaxSpansPerTrace: []int{1, 2, 5, 50, 10_000}[b.next()%5],
		MaxBytesPerTrace: 256 << (b.next() % 8),
		KeptCacheSize:    1 + int(b.next()%16),
		DroppedCacheSize: 1 + int(b.next()%64),
		RecordRule:       b.next()%2 == 0,
		Rules: ruleSettings{
			Errors:       1,
			MeshFailures: b.prob(),
			Canary:       b.prob(),
			Baseline:     b.prob(),
			Latency:      latencySettings{Probability: b.prob(), Threshold: time.Duration(1+b.next()) * time.Millisecond},
		},
	}
	if c := b.next(); c%2 == 1 {
		set.StressRelief = stressReliefSettings{Activate: 0.5 + float64(c%50)/100, Deactivate: 0.25, MinActive: time.Duration(c%3) * time.Second, Probability: float64(1+b.next()) / 256}
	}
	if c := b.next(); c%3 == 0 {
		set.TracesPerSecond, set.SpansPerSecond = float64(c%5), float64(b.next()%20)
	}
	if b.next()%2 == 0 {
		set.Rules.EdgeCoverage = edgeCoverageSettings{MinTraces: 1, Window: time.Minute}
	}
	return set
}

// streamTrace is one trace of the stream, with consistent sampling state:
// its upstream threshold never exceeds its randomness.
type streamTrace struct {
	id pcommon.TraceID
	rv uint64 // explicit randomness, 0: none
	th threshold.Threshold
}

func checkInvariants(t *testing.T, data []byte) {
	b := &bytes{data: data}
	set := settingsFrom(b)
	te := newTestEngine(t, set)

	traces := make([]streamTrace, 6)
	for i := range traces {
		tr := &traces[i]
		if i > 0 { // trace 0 has the zero id
			tr.id = traceID(uint64(b.next()), uint64(b.next())<<48|uint64(i))
		}
		r := threshold.TraceIDRandomness(tr.id)
		if b.next()%2 == 0 {
			tr.rv = uint64(b.next())<<48 | 0xabcdef
			r = min(r, tr.rv)
		}
		if c := b.next(); c%2 == 0 {
			tr.th = threshold.Threshold(r / 256 * uint64(c))
		}
	}

	type sent struct {
		th      threshold.Threshold
		err     bool
		count   int    // how many times it was sent
		service string // of its resource
	}
	sentSpans := map[int64]*sent{}
	accepted := 0
	var seq int64
	t0 := uint64(1_700_000_000_000_000_000)
	req := ptrace.NewTraces()
	last := ptrace.NewTraces()
	ingest := func(td ptrace.Traces) {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					s, _ := sp.Attributes().Get(seqKey)
					sentSpans[s.Int()].count++
					accepted++
				}
			}
		}
		require.NoError(t, te.Ingest(context.Background(), td))
		require.LessOrEqual(t, te.BufferedBytes(), set.MaxBufferedBytes, "buffered bytes within the bound after a request")
	}
	addSpan := func(tr streamTrace, id, parent uint64, c byte) {
		seq++
		spec := spanSpec{trace: tr.id, id: id, parent: parent, seq: seq, kind: ptrace.SpanKind(c % 6)}
		switch c % 3 {
		case 0:
			spec.direction, spec.dest = "outbound", fmt.Sprint("svc", c%4)
		case 1:
			spec.direction = "inbound"
		}
		switch (c >> 2) % 8 {
		case 0:
			spec.status = 503
		case 1:
			spec.err = true
		case 2:
			spec.status = 200
		}
		if c&0x20 == 0 {
			spec.start, spec.end = t0+uint64(c)*1e6, t0+uint64(c)*3e6
		} // else zero timestamps
		var ot string
		if tr.rv != 0 && c&0x40 == 0 {
			ot = fmt.Sprintf("rv:%014x", tr.rv)
		}
		if tr.th != 0 && c&0x80 == 0 {
			if ot != "" {
				ot += ";"
			}
			ot += "th:" + tr.th.String()
		}
		if ot != "" {
			spec.tracestate = "ot=" + ot
		}
		svc := fmt.Sprint("svc", c%3)
		sentSpans[seq] = &sent{err: spec.err || spec.status >= 500, service: svc}
		if tr.th != 0 && c&0x80 == 0 { // th on this span: the kept span's must not be lower
			sentSpans[seq].th = tr.th
		}
		one := buildTraces(svc, spec)
		if n := req.ResourceSpans().Len(); n > 0 && service(req.ResourceSpans().At(n-1)) == service(one.ResourceSpans().At(0)) {
			// As a proxy sends them: its spans of several traces under its one resource.
			one.ResourceSpans().At(0).ScopeSpans().At(0).Spans().MoveAndAppendTo(req.ResourceSpans().At(n - 1).ScopeSpans().At(0).Spans())
		} else {
			one.ResourceSpans().MoveAndAppendTo(req.ResourceSpans())
		}
	}

	for ops := 0; b.more() && ops < 3000; ops++ {
		switch op := b.next(); op % 8 {
		case 0, 1, 2:
			tr := traces[int(b.next())%len(traces)]
			addSpan(tr, uint64(b.next()%16), uint64(b.next()%17), b.next())
		case 3:
			last = ptrace.NewTraces() // Ingest moves the spans out of req
			req.CopyTo(last)
			ingest(req)
			req = ptrace.NewTraces()
		case 4: // a retry delivers the last request again
			if last.ResourceSpans().Len() > 0 {
				again := ptrace.NewTraces()
				last.CopyTo(again)
				ingest(again)
			}
		case 5:
			te.after(time.Duration(b.next()) * 50 * time.Millisecond)
		case 6:
			te.sink.mu.Lock()
			te.sink.refuse = !te.sink.refuse
			te.sink.mu.Unlock()
		case 7: // a huge trace, one request
			tr := traces[int(b.next())%len(traces)]
			n := 50 + int(b.next())
			for i := range n {
				addSpan(tr, uint64(100+i), uint64(100+i/2), byte(i)|0x20)
			}
		}
	}
	ingest(req)
	te.after(time.Second)
	require.NoError(t, te.Shutdown(context.Background()))
	require.Zero(t, te.BufferedBytes(), "nothing buffered after shutdown")

	passed := map[int64]int{}
	check := func(spans []ptrace.Span) {
		for _, sp := range spans {
			v, _ := sp.Attributes().Get(seqKey)
			s := sentSpans[v.Int()]
			passed[v.Int()]++
			require.LessOrEqual(t, passed[v.Int()], s.count, "span %d passed on more often than it was sent", v.Int())
			th, ok := threshold.Upstream(sp.TraceState().AsRaw())
			require.True(t, ok, "every kept span carries th")
			require.GreaterOrEqual(t, th, s.th, "th only rises")
		}
	}
	for _, td := range te.sink.batches() {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					v, _ := sp.Attributes().Get(seqKey)
					require.Equal(t, sentSpans[v.Int()].service, service(rs), "span %d keeps its resource", v.Int())
				}
			}
		}
	}
	kept, refused := te.sink.kept(), te.sink.refusedSpans()
	check(kept)
	check(refused)
	dropped := te.counter(t, "otelcol_processor_mesh_sampling_dropped_spans", "", "")
	refusedCount := te.counter(t, "otelcol_processor_mesh_sampling_refused_spans", "", "")
	require.Equal(t, int64(len(refused)), refusedCount, "refused spans are counted")
	require.Equal(t, accepted, len(kept)+len(refused)+int(dropped),
		"every accepted span passed on, refused or counted as dropped (kept %d, refused %d, dropped %d)", len(kept), len(refused), dropped)
	for s, info := range sentSpans {
		if info.err && info.count > 0 {
			require.Positive(t, passed[s], "error span %d was not kept", s)
		}
	}
}

func service(rs ptrace.ResourceSpans) string {
	v, _ := rs.Resource().Attributes().Get("service.name")
	return v.AsString()
}
