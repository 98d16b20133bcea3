package e2e

import (
	"context"
	bin "encoding/binary"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

// gatewayTier is one gateway of configs/gateway.yaml (mesh sampling on)
// exporting to the sink, with a resource processor that tags everything it
// exports with test.gateway=name, the sampling rule recorded on kept spans
// and max_wait 5s (the forced split traces never complete on either
// gateway). It can be started again on the same ports and queue directory.
type gatewayTier struct {
	name, backend, dir string
	*collector
}

func (g *gatewayTier) env() []string {
	return []string{
		"OTELCOL_MESH_BACKEND_ENDPOINT=" + g.backend,
		"OTELCOL_MESH_BACKEND_INSECURE=true",
		"OTELCOL_MESH_STORAGE_DIR=" + g.dir,
	}
}

func (g *gatewayTier) args(p ports) []string {
	return shippedArgs("gateway.yaml", p,
		"processors::mesh::sampling::record_rule: true",
		"processors::mesh::sampling::max_wait: 5s",
		"processors::resource/gw: {attributes: [{key: test.gateway, value: "+g.name+", action: upsert}]}",
		"service::pipelines::traces::processors: [memory_limiter, mesh, resource/gw]",
	)
}

func startTaggedGateway(t *testing.T, name, backend string) *gatewayTier {
	t.Helper()
	g := &gatewayTier{name: name, backend: backend, dir: t.TempDir()}
	g.collector = launch(t, backend, func(p ports) ([]string, []string) { return g.env(), g.args(p) })
	return g
}

// restart starts the gateway again on its ports and queue directory.
func (g *gatewayTier) restart(t *testing.T) {
	t.Helper()
	c, err := runCollector(t, g.ports, g.env(), g.args(g.ports))
	require.NoError(t, err, "gateway %s: %s", g.name, c.log)
	g.collector = c
}

// agentTier is the agent of configs/agent.yaml (load_balancing by trace ID,
// static resolver, persistent queue) on fixed ports, restartable with
// another list of gateways on the same ports and the same queue directory.
type agentTier struct {
	p   ports
	dir string
	c   *collector
}

func (a *agentTier) start(t *testing.T, gateways ...*gatewayTier) time.Duration {
	t.Helper()
	var hosts []string
	for _, g := range gateways {
		hosts = append(hosts, g.ports.OTLPGRPC)
	}
	env := []string{
		"OTELCOL_MESH_GATEWAYS=[" + strings.Join(hosts, ", ") + "]",
		"OTELCOL_MESH_STORAGE_DIR=" + a.dir,
	}
	start := time.Now()
	c, err := runCollector(t, a.p, env, shippedArgs("agent.yaml", a.p))
	require.NoError(t, err, "agent: %s", c.log)
	a.c = c
	return time.Since(start)
}

// watchQueue samples the agent's sending queue (bytes, persistent) every
// 100 ms for d, from now: its peak, and how long after from it fell back
// under 1 MiB (one batch) after the peak.
func (a *agentTier) watchQueue(t *testing.T, from time.Time, d time.Duration) <-chan [2]float64 {
	out := make(chan [2]float64, 1)
	go func() {
		peak, drained := 0.0, 0.0
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			m := scrapeMetrics(t, a.p.Metrics)
			if m == nil {
				continue // restarting
			}
			q := m["otelcol_exporter_queue_size"]
			if q > peak {
				peak, drained = q, 0
			}
			if drained == 0 && peak > 1<<20 && q <= 1<<20 {
				drained = time.Since(from).Seconds()
			}
		}
		out <- [2]float64{peak, drained}
	}()
	return out
}

// sentTrace is one meshgen trace the test sent to the agent.
type sentTrace struct {
	meshgen.Trace
	spans  int
	sentAt time.Time
	acked  bool
}

// mustKeep: the sampler keeps it on any gateway: an error, a proxy failure,
// a slow request or canary traffic, or a plain trace whose randomness (the
// last 7 bytes of the trace ID) passes the baseline threshold th:e666 (10%).
func (s sentTrace) mustKeep() bool {
	return s.interesting() || baselineKeeps(s.ID)
}

func (s sentTrace) interesting() bool { return s.Error || s.Failure || s.Slow || s.Canary }

func baselineKeeps(id pcommon.TraceID) bool {
	return bin.BigEndian.Uint64(id[8:])&(1<<56-1) >= 0xe666<<40
}

// meshTraffic sends meshgen Istio traffic to the agent at a fixed rate and
// remembers every trace, when it was sent and whether the agent acked it.
type meshTraffic struct {
	mu     sync.Mutex
	traces []sentTrace
}

func (m *meshTraffic) run(ctx context.Context, t *testing.T, endpoint string, interval time.Duration, batch int) <-chan struct{} {
	opts := meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.05, FlagRate: 0.05, SlowRate: 0.03, CanaryShare: 0.1, Seed: 4242}
	g := meshgen.New(opts)
	s, err := meshgen.NewSender("otlp", endpoint, opts)
	require.NoError(t, err)
	return every(ctx, interval, func() {
		td := ptrace.NewTraces()
		now := time.Now()
		var trs []sentTrace
		for range batch {
			tr := g.Next()
			trs = append(trs, sentTrace{Trace: tr, spans: tr.Traces.SpanCount(), sentAt: now})
			tr.Traces.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
		}
		sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		err := s.Send(sendCtx, td)
		cancel()
		m.mu.Lock()
		for i := range trs {
			trs[i].acked = err == nil
			m.traces = append(m.traces, trs[i])
		}
		m.mu.Unlock()
	}, func() { _ = s.Close() })
}

// arrival is what the sink got of one trace.
type arrival struct {
	spans    map[pcommon.SpanID]bool
	dups     int
	gateways map[string]bool
	th, rule map[string]bool
}

func arrivals(s *sink) map[pcommon.TraceID]*arrival {
	out := map[pcommon.TraceID]*arrival{}
	for _, sp := range s.allSpans() {
		a := out[sp.Span.TraceID()]
		if a == nil {
			a = &arrival{spans: map[pcommon.SpanID]bool{}, gateways: map[string]bool{}, th: map[string]bool{}, rule: map[string]bool{}}
			out[sp.Span.TraceID()] = a
		}
		if a.spans[sp.Span.SpanID()] {
			a.dups++
		}
		a.spans[sp.Span.SpanID()] = true
		gw, _ := sp.Resource.Resource().Attributes().Get("test.gateway")
		a.gateways[gw.Str()] = true
		a.th[sp.Span.TraceState().AsRaw()] = true
		rule, _ := sp.Span.Attributes().Get("mesh.sampling.rule")
		a.rule[rule.Str()] = true
	}
	return out
}

// window is the outcome for the traces sent in [from, to).
type window struct {
	name                                  string
	sent, refused, mustKeep, whole        int
	lost, partial, multiGateway, dupSpans int
	errors, errorsKept, plain, plainKept  int
	lastBad                               time.Time
	lostIDs                               []string
}

func (w window) String() string {
	return fmt.Sprintf("%s: %d traces sent, %d refused by the agent (client retries), %d must be kept: %d whole from one gateway, %d lost, %d partial, %d from two gateways; %d duplicate spans; errors kept %d/%d; plain kept %d/%d (%.3f)",
		w.name, w.sent, w.refused, w.mustKeep, w.whole, w.lost, w.partial, w.multiGateway, w.dupSpans, w.errorsKept, w.errors, w.plainKept, w.plain, float64(w.plainKept)/float64(max(w.plain, 1)))
}

func evaluate(name string, traces []sentTrace, got map[pcommon.TraceID]*arrival, from, to time.Time) window {
	w := window{name: name}
	for _, tr := range traces {
		if tr.sentAt.Before(from) || !tr.sentAt.Before(to) {
			continue
		}
		w.sent++
		if !tr.acked {
			w.refused++
			w.lastBad = tr.sentAt
			continue
		}
		a := got[tr.ID]
		if a != nil {
			w.dupSpans += a.dups
		}
		if tr.Error {
			w.errors++
			if a != nil {
				w.errorsKept++
			}
		}
		if !tr.interesting() {
			w.plain++
			if a != nil {
				w.plainKept++
			}
		}
		if !tr.mustKeep() {
			continue
		}
		w.mustKeep++
		switch {
		case a == nil:
			w.lost++
			w.lostIDs = append(w.lostIDs, tr.ID.String())
		case len(a.spans) != tr.spans:
			w.partial++
		case len(a.gateways) != 1:
			w.multiGateway++
		default:
			w.whole++
			continue
		}
		w.lastBad = tr.sentAt
	}
	return w
}

// TestScaleOut: meshgen -> agent (configs/agent.yaml: load_balancing by
// trace ID over a static list, persistent queue) -> three gateways
// (configs/gateway.yaml, mesh sampling) -> one sink. Steady state: every
// kept trace arrives whole from exactly one gateway, every error trace is
// kept, the baseline keeps 10% of the plain ones. Then one gateway is
// killed (SIGKILL) and the agent restarted with the two others (the static
// resolver's way to re-route; the k8s resolver does it when the endpoints
// change), then a third gateway is added the same way; what each event
// loses and splits, and how long until every trace arrives whole again, is
// measured. Last, spans of plain traces forced onto two gateways get the
// same decision and the same th on both.
func TestScaleOut(t *testing.T) {
	const (
		interval = 50 * time.Millisecond // 5 traces per export: 100 traces/s
		batch    = 5
	)
	s := startSink(t)
	g1 := startTaggedGateway(t, "g1", s.addr)
	g2 := startTaggedGateway(t, "g2", s.addr)
	g3 := startTaggedGateway(t, "g3", s.addr)
	agent := &agentTier{p: newPorts(t, ""), dir: t.TempDir()}
	agent.start(t, g1, g2, g3)

	traffic := &meshTraffic{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	t0 := time.Now()
	done := traffic.run(ctx, t, agent.p.OTLPGRPC, interval, batch)

	// Steady state on three gateways.
	time.Sleep(10 * time.Second)

	// SIGKILL one gateway; two seconds later it is back on the same address
	// (a StatefulSet pod restarting): the agent, its list unchanged, held
	// that gateway's share in its queue meanwhile.
	bounceAt := time.Now()
	bounceQueue := agent.watchQueue(t, bounceAt, 10*time.Second)
	g2.kill(t)
	time.Sleep(2 * time.Second)
	g2.restart(t)
	t.Logf("gateway back: %s after the SIGKILL", time.Since(bounceAt).Round(100*time.Millisecond))
	q := <-bounceQueue
	t.Logf("gateway back: the agent's queue peaked at %.1f MiB and drained %.1fs after the SIGKILL", q[0]/(1<<20), q[1])

	// SIGKILL it again; two seconds later (readiness would notice) the
	// agent restarts with the two others and re-routes what it queued.
	killAt := time.Now()
	killQueue := agent.watchQueue(t, killAt, 10*time.Second)
	g2.kill(t)
	time.Sleep(2 * time.Second)
	stopTook := agent.c.terminate(t)
	startTook := agent.start(t, g1, g3)
	t.Logf("re-route: agent restarted with 2 gateways %s after the SIGKILL (SIGTERM took %s, start %s)",
		time.Since(killAt).Round(100*time.Millisecond), stopTook.Round(100*time.Millisecond), startTook.Round(100*time.Millisecond))
	q = <-killQueue
	t.Logf("re-route: the agent's queue peaked at %.1f MiB and drained %.1fs after the SIGKILL", q[0]/(1<<20), q[1])

	// Scale 2 -> 3: a new gateway, the agent restarted with the three.
	g4 := startTaggedGateway(t, "g4", s.addr)
	scaleAt := time.Now()
	stopTook = agent.c.terminate(t)
	startTook = agent.start(t, g1, g3, g4)
	t.Logf("scale 2->3: agent restarted in %s (SIGTERM %s, start %s)",
		time.Since(scaleAt).Round(100*time.Millisecond), stopTook.Round(100*time.Millisecond), startTook.Round(100*time.Millisecond))
	time.Sleep(8 * time.Second)
	cancel()
	<-done
	end := time.Now()

	// Everything decided (settle 1s; partial traces wait max_wait 5s) and
	// exported.
	traffic.mu.Lock()
	traces := traffic.traces
	traffic.mu.Unlock()
	want := 0
	for _, tr := range traces {
		if tr.acked && tr.mustKeep() {
			want += tr.spans
		}
	}
	s.waitStable(want, 4*time.Second, 20*time.Second)
	got := arrivals(s)

	// A SIGKILL loses what the gateway had not decided yet: traces acked
	// up to settle_time before it. Each event's window starts 3 s early.
	before := 3 * time.Second
	steady := evaluate("steady, 3 gateways", traces, got, t0, bounceAt.Add(-before))
	bounce := evaluate("SIGKILL of 1 of 3 gateways, back after 2 s", traces, got, bounceAt.Add(-before), killAt.Add(-before))
	kill := evaluate("SIGKILL of 1 of 3 gateways, agent re-routes to 2", traces, got, killAt.Add(-before), scaleAt)
	scale := evaluate("scale 2->3 gateways", traces, got, scaleAt, end)
	for _, w := range []window{steady, bounce, kill, scale} {
		t.Log(w)
	}
	recovery := func(w window, at time.Time) time.Duration {
		if w.lastBad.IsZero() || w.lastBad.Before(at) {
			return 0
		}
		return w.lastBad.Sub(at)
	}
	for _, e := range []struct {
		w  window
		at time.Time
	}{{bounce, bounceAt}, {kill, killAt}, {scale, scaleAt}} {
		t.Logf("%s: %d must-keep traces lost, %d partial, %d split over two gateways, %d refused to the client; every trace sent %s after the event or later arrived whole",
			e.w.name, e.w.lost, e.w.partial, e.w.multiGateway, e.w.refused, recovery(e.w, e.at).Round(100*time.Millisecond))
	}

	// Steady state: the promises of a single gateway hold with three.
	assert.Positive(t, steady.mustKeep)
	assert.Zero(t, steady.refused, "the agent acks everything")
	assert.Equal(t, steady.mustKeep, steady.whole, "every kept trace arrives whole from exactly one gateway (lost %v)", steady.lostIDs)
	assert.Equal(t, steady.errors, steady.errorsKept, "every error trace is kept")
	assert.InDelta(t, 0.1, float64(steady.plainKept)/float64(steady.plain), 0.04, "baseline share of %d plain traces", steady.plain)
	for id, a := range got {
		if len(a.gateways) == 1 {
			continue
		}
		// Only a trace whose spans were re-routed can come from two.
		for _, tr := range traces {
			if tr.ID == id {
				assert.False(t, tr.sentAt.Before(bounceAt.Add(-before)), "steady-state trace %s from gateways %v", id, a.gateways)
			}
		}
	}
	// With its list unchanged the agent refuses nothing while a gateway is
	// down: it queues.
	assert.Zero(t, bounce.refused, "the agent acks everything while a gateway restarts")
	// Every error trace the agent acked after the events is kept.
	assert.Equal(t, scale.errors, scale.errorsKept, "scale 2->3: every error trace is kept")
	// After each event the tier recovers well before the next one.
	assert.Less(t, recovery(bounce, bounceAt), killAt.Sub(bounceAt)-before, "the gateway restart's losses end")
	assert.Less(t, recovery(kill, killAt), scaleAt.Sub(killAt)-before, "the re-route's losses end")
	assert.Less(t, recovery(scale, scaleAt), end.Sub(scaleAt)-time.Second, "the scale-out's losses end")

	t.Run("one trace on two gateways", func(t *testing.T) {
		forcedSplit(t, s, g1, g3)
	})
}

// forcedSplit sends the first half of the proxies' spans of each plain trace
// to one gateway and the rest to another: both decide alone (max_wait, as
// neither sees the trace complete), and a probability rule decides the same
// on both, with the same th.
func forcedSplit(t *testing.T, s *sink, a, b *gatewayTier) {
	gen := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, Seed: 777})
	sa, err := meshgen.NewOTLPSender(a.ports.OTLPGRPC, "")
	require.NoError(t, err)
	defer sa.Close()
	sb, err := meshgen.NewOTLPSender(b.ports.OTLPGRPC, "")
	require.NoError(t, err)
	defer sb.Close()
	ids := map[pcommon.TraceID]bool{}
	for range 300 {
		tr := gen.Next()
		ids[tr.ID] = true
		first, second := ptrace.NewTraces(), ptrace.NewTraces()
		rss := tr.Traces.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			if i < rss.Len()/2 {
				rss.At(i).CopyTo(first.ResourceSpans().AppendEmpty())
			} else {
				rss.At(i).CopyTo(second.ResourceSpans().AppendEmpty())
			}
		}
		require.NoError(t, sa.Send(t.Context(), first))
		require.NoError(t, sb.Send(t.Context(), second))
	}
	// max_wait 5s, then the decision tick and the export.
	time.Sleep(8 * time.Second)
	got := arrivals(s)

	same, differ, coverage, bothKept, baseline := 0, 0, 0, 0, 0
	for id := range ids {
		if baselineKeeps(id) {
			baseline++
		}
		ar := got[id]
		kept := map[string]bool{}
		if ar != nil {
			kept = ar.gateways
		}
		if ar != nil && ar.rule["edge_coverage"] {
			coverage++ // an edge's first trace of the minute on one gateway
			continue
		}
		switch len(kept) {
		case 0:
			same++
			assert.False(t, baselineKeeps(id), "trace %s passes the baseline threshold but was kept nowhere", id)
		case 2:
			same++
			bothKept++
			assert.True(t, baselineKeeps(id), "trace %s kept", id)
			assert.Len(t, ar.th, 1, "trace %s: one th on both gateways, got %v", id, ar.th)
			assert.True(t, ar.th["ot=th:e666"], "trace %s: th %v", id, ar.th)
		default:
			differ++
			t.Errorf("trace %s kept by %v only (rules %v)", id, kept, ar.rule)
		}
	}
	t.Logf("300 plain traces split over two gateways: %d same decision (%d kept on both, %d by the baseline threshold), %d different, %d kept by edge coverage on one",
		same, bothKept, baseline, differ, coverage)
	assert.Positive(t, bothKept)
}
