package normalize

import (
	"path/filepath"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

// envoyUA is an Envoy OTLP exporter's User-Agent (istio/proxy SHA of 1.20.0).
const envoyUA = "OTel-OTLP-Exporter-Envoy/580bf9cc561a012d4eb14af48d496d6748307e59/1.28.1-dev/Clean/RELEASE/BoringSSL grpc-go/1.83.2"

// decisionThenTraces normalizes td as the sampling gateway does: only what
// the sampler decides on when it arrives (with the request's User-Agent),
// the rest once kept (without it).
func decisionThenTraces(set Settings, td ptrace.Traces, userAgent string) ptrace.Traces {
	n := New(set)
	n.DecisionAttributes(td, userAgent)
	n.Traces(td, "")
	return td
}

// TestDecisionAttributesThenTraces: DecisionAttributes followed by Traces on
// the kept spans gives what Traces alone gives, on every golden input and on
// generated Istio, Envoy and Linkerd traffic, for both namings.
func TestDecisionAttributesThenTraces(t *testing.T) {
	inputs := map[string]ptrace.Traces{}
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*_input.yaml"))
	require.NoError(t, err)
	for _, f := range files {
		td, err := golden.ReadTraces(f)
		require.NoError(t, err)
		inputs[filepath.Base(f)] = td
	}
	for _, o := range []meshgen.Options{
		{Mesh: meshgen.Istio, ErrorRate: 0.3, FlagRate: 0.3, SlowRate: 0.1, CanaryShare: 0.3, Seed: 3},
		{Mesh: meshgen.Envoy, ErrorRate: 0.3, FlagRate: 0.3, Seed: 4},
		{Mesh: meshgen.Linkerd, ErrorRate: 0.3, CanaryShare: 0.3, Seed: 5},
	} {
		g := meshgen.New(o)
		td := ptrace.NewTraces()
		for range 40 {
			g.Next().Traces.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
		}
		inputs[string(o.Mesh)] = td
	}
	semconvNames := goldenSettings(t)
	semconvNames.SemconvNames = true
	for name, in := range inputs {
		for _, set := range []Settings{goldenSettings(t), semconvNames} {
			for _, ua := range []string{"", envoyUA} {
				full, split := ptrace.NewTraces(), ptrace.NewTraces()
				in.CopyTo(full)
				in.CopyTo(split)
				New(set).Traces(full, ua)
				decisionThenTraces(set, split, ua)
				assert.NoError(t, ptracetest.CompareTraces(full, split), "%s (semconv names %v, user agent %q)", name, set.SemconvNames, ua)
			}
		}
	}
}

// TestDecisionAttributesWriteLess: on Envoy spans, the decision pass writes
// a fraction of what normalizing does.
func TestDecisionAttributesWriteLess(t *testing.T) {
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, Seed: 9})
	in := g.Next().Traces
	full, decision := ptrace.NewTraces(), ptrace.NewTraces()
	in.CopyTo(full)
	in.CopyTo(decision)
	New(goldenSettings(t)).Traces(full, "")
	New(goldenSettings(t)).DecisionAttributes(decision, "")
	attrs := func(td ptrace.Traces) (n int) {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, span := range ss.Spans().All() {
					n += span.Attributes().Len()
				}
			}
		}
		return n
	}
	before, afterFull, afterDecision := attrs(in), attrs(full), attrs(decision)
	assert.Less(t, 3*(afterDecision-before), afterFull-before, "decision pass added %d attributes, normalizing %d", afterDecision-before, afterFull-before)
}
