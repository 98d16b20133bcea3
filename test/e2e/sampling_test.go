package e2e

import (
	bin "encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

// startGateway runs the shipped configs/gateway.yaml (mesh tail sampling on)
// with its listeners moved to free loopback ports, its backend set to the
// sink and its sending queue in a temporary directory.
func startGateway(t *testing.T, sink string, overrides ...string) *collector {
	return startShippedGateway(t, sink, t.TempDir(), overrides...)
}

// TestGatewayTailSampling sends meshgen traffic with injected errors, proxy
// failures, slow hops and canary requests through the shipped gateway config:
// every such trace arrives whole, and the rest is kept exactly when its
// trace-id randomness passes the baseline threshold (10%).
func TestGatewayTailSampling(t *testing.T) {
	s := startSink(t)
	c := startGateway(t, s.addr, "processors::mesh::sampling::record_rule: true")

	opts := meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.05, FlagRate: 0.05, SlowRate: 0.05, CanaryShare: 0.1, Seed: 77}
	sender, err := meshgen.NewSender("otlp", c.ports.OTLPGRPC, opts)
	require.NoError(t, err)
	g := meshgen.New(opts)
	sent := map[pcommon.TraceID]meshgen.Trace{}
	spans := map[pcommon.TraceID]int{}
	for range 100 {
		batch := make([]meshgen.Trace, 0, 10)
		for range 10 {
			tr := g.Next()
			sent[tr.ID], spans[tr.ID] = tr, tr.Traces.SpanCount()
			batch = append(batch, tr)
		}
		for _, tr := range batch {
			require.NoError(t, sender.Send(t.Context(), tr.Traces))
		}
	}
	require.NoError(t, sender.Close())

	// Which traces must arrive: every interesting one, plus the plain ones the
	// baseline keeps (randomness >= th:e666) or edge coverage keeps (at
	// least one per edge and minute: read from mesh.sampling.rule).
	mustKeep, plain := 0, 0
	for _, tr := range sent {
		if tr.Error || tr.Failure || tr.Slow || tr.Canary {
			mustKeep++
		} else {
			plain++
		}
	}
	require.Positive(t, mustKeep)

	deadline := time.Now().Add(30 * time.Second)
	var got map[pcommon.TraceID][]receivedSpan
	for {
		got = map[pcommon.TraceID][]receivedSpan{}
		for _, sp := range s.allSpans() {
			got[sp.Span.TraceID()] = append(got[sp.Span.TraceID()], sp)
		}
		done := 0
		for id, tr := range sent {
			if (tr.Error || tr.Failure || tr.Slow || tr.Canary) && len(got[id]) == spans[id] {
				done++
			}
		}
		if done == mustKeep || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Every trace decided and nothing buffered: then the sink has all.
	require.Eventually(t, func() bool {
		m := scrapeMetrics(t, c.ports.Metrics)
		return m["otelcol_processor_mesh_sampling_decisions"] == float64(len(sent)) && m["otelcol_processor_mesh_sampling_traces_buffered"] == 0
	}, 30*time.Second, 200*time.Millisecond, "every trace decided")
	time.Sleep(500 * time.Millisecond) // the last export in flight
	got = map[pcommon.TraceID][]receivedSpan{}
	for _, sp := range s.allSpans() {
		got[sp.Span.TraceID()] = append(got[sp.Span.TraceID()], sp)
	}

	baselineKept, coverageKept := 0, 0
	for id, tr := range sent {
		arrived := got[id]
		interesting := tr.Error || tr.Failure || tr.Slow || tr.Canary
		if interesting {
			require.Len(t, arrived, spans[id], "error/failure/slow/canary trace %s (%+v) arrives whole", id, tr)
		}
		if len(arrived) == 0 {
			continue
		}
		require.Len(t, arrived, spans[id], "kept traces arrive whole")
		rule, _ := arrived[0].Span.Attributes().Get("mesh.sampling.rule")
		th := arrived[0].Span.TraceState().AsRaw()
		for _, sp := range arrived {
			assert.Equal(t, th, sp.Span.TraceState().AsRaw(), "one threshold per trace")
		}
		if interesting {
			assert.Equal(t, "ot=th:0", th)
			continue
		}
		switch rule.Str() {
		case "baseline":
			baselineKept++
			assert.Equal(t, "ot=th:e666", th)
		case "edge_coverage":
			coverageKept++
			assert.Equal(t, "ot=th:0", th)
		default:
			t.Errorf("plain trace kept by rule %q", rule.Str())
		}
	}
	// Consistent sampling: a plain trace is kept by the baseline exactly when
	// the last 7 bytes of its id are >= 0xe666 << 40.
	wantBaseline := 0
	for id, tr := range sent {
		randomness := bin.BigEndian.Uint64(id[8:]) & (1<<56 - 1)
		if !(tr.Error || tr.Failure || tr.Slow || tr.Canary) && randomness >= 0xe666<<40 {
			wantBaseline++
		}
	}
	assert.InDelta(t, wantBaseline, baselineKept, float64(coverageKept), "baseline keeps by trace id (edge coverage may take a few first)")
	share := float64(baselineKept+coverageKept) / float64(plain)
	assert.InDelta(t, 0.1, share, 0.04, "baseline share of %d plain traces", plain)
	t.Logf("%d traces: %d interesting kept whole, %d plain: %d kept by baseline, %d by edge coverage (share %.3f)",
		len(sent), mustKeep, plain, baselineKept, coverageKept, share)

	m := scrapeMetrics(t, c.ports.Metrics)
	assert.Equal(t, float64(len(sent)), m["otelcol_processor_mesh_sampling_decisions"], "one decision per trace")
}
