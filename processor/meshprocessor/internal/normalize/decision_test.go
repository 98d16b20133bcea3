package normalize

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

// envoyUA is an Envoy OTLP exporter's User-Agent (istio/proxy SHA of 1.20.0).
const envoyUA = "OTel-OTLP-Exporter-Envoy/580bf9cc561a012d4eb14af48d496d6748307e59/1.28.1-dev/Clean/RELEASE/BoringSSL grpc-go/1.83.2"

// twoUA is an Envoy OTLP exporter's User-Agent with an istio/proxy SHA
// shipped in two releases (1.27.6 and 1.27.7): only a lower bound is exact.
const twoUA = "OTel-OTLP-Exporter-Envoy/0ba73dcebc4c11bd3833a4a78b503e0167702b20/1.35.3-dev/Clean/RELEASE/BoringSSL grpc-go/1.83.2"

// deferred normalizes td as the sampling gateway does: the decision
// attributes when the request arrives (with its User-Agent), then, the
// resources split by trace as the sampler buffers them, the rest.
func deferred(set Settings, td ptrace.Traces, userAgent string) ptrace.Traces {
	n := New(set)
	n.DecisionAttributes(td, userAgent)
	split := ptrace.NewTraces()
	for _, rs := range td.ResourceSpans().All() {
		byTrace := map[pcommon.TraceID]ptrace.ResourceSpans{}
		for _, ss := range rs.ScopeSpans().All() {
			scopes := map[pcommon.TraceID]ptrace.SpanSlice{}
			for _, span := range ss.Spans().All() {
				id := span.TraceID()
				nrs, ok := byTrace[id]
				if !ok {
					nrs = split.ResourceSpans().AppendEmpty()
					rs.Resource().CopyTo(nrs.Resource())
					byTrace[id] = nrs
				}
				spans, ok := scopes[id]
				if !ok {
					nss := nrs.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(nss.Scope())
					spans = nss.Spans()
					scopes[id] = spans
				}
				span.CopyTo(spans.AppendEmpty())
			}
		}
	}
	n.Finish(split)
	return split
}

// bySpan is each span of td, with its resource and scope, as plain values.
func bySpan(td ptrace.Traces) map[pcommon.SpanID]map[string]any {
	out := map[pcommon.SpanID]map[string]any{}
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				out[span.SpanID()] = map[string]any{
					"resource": rs.Resource().Attributes().AsRaw(), "scope": ss.Scope().Name(),
					"name": span.Name(), "kind": span.Kind(), "status": span.Status().Code(),
					"attributes": span.Attributes().AsRaw(),
				}
			}
		}
	}
	return out
}

// TestDeferredNormalizing: DecisionAttributes, then Finish on the spans
// split by trace, gives what Traces alone gives, on every golden input and
// on generated Istio, Envoy and Linkerd traffic, for both namings, with and
// without an Envoy User-Agent (one that names a single release, and one
// whose SHA two releases share).
func TestDeferredNormalizing(t *testing.T) {
	inputs := goldenInputs(t)
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
			for _, ua := range []string{"", envoyUA, twoUA} {
				full, split := ptrace.NewTraces(), ptrace.NewTraces()
				in.CopyTo(full)
				in.CopyTo(split)
				New(set).Traces(full, ua)
				assert.Equal(t, bySpan(full), bySpan(deferred(set, split, ua)), "%s (semconv names %v, user agent %q)", name, set.SemconvNames, ua)
			}
		}
	}
}

// TestDeferredNormalizingCountsOnce: every malformed input is counted once,
// by DecisionAttributes or (URLs and body sizes) by Finish on kept spans.
func TestDeferredNormalizingCountsOnce(t *testing.T) {
	for name, in := range goldenInputs(t) {
		full, split := ptrace.NewTraces(), ptrace.NewTraces()
		in.CopyTo(full)
		in.CopyTo(split)
		n := New(goldenSettings(t))
		want := n.Traces(full, "")
		first := n.DecisionAttributes(split, "")
		second := n.Finish(split)
		got := map[string]int64{}
		for _, c := range []map[string]int64{first.Malformed, second.Malformed} {
			for k, v := range c {
				got[k] += v
			}
		}
		if want.Malformed == nil {
			want.Malformed = map[string]int64{}
		}
		assert.Equal(t, want.Malformed, got, name)
		assert.Equal(t, want.Spans, first.Spans, name)
		assert.Equal(t, want.Canary, first.Canary, name)
		assert.Empty(t, second.Spans, name)
		assert.Empty(t, second.Canary, name)
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
