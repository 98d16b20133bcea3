package meshgen

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func spansByKind(td ptrace.Traces) map[ptrace.SpanKind]int {
	out := map[ptrace.SpanKind]int{}
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				out[s.Kind()]++
			}
		}
	}
	return out
}

func TestBookinfoShape(t *testing.T) {
	g := New(Options{Mesh: Istio, Seed: 1})
	deep := 0
	for range 50 {
		tr := g.Next()
		n := tr.Traces.SpanCount()
		require.Contains(t, []int{7, 9}, n, "bookinfo: 9 spans with ratings, 7 without")
		if n == 9 {
			deep++
		}
		k := spansByKind(tr.Traces)
		assert.Equal(t, k[ptrace.SpanKindClient]+1, k[ptrace.SpanKindServer], "every client hop has its server span, plus the gateway root")
		for _, rs := range tr.Traces.ResourceSpans().All() {
			for _, s := range rs.ScopeSpans().At(0).Spans().All() {
				assert.Equal(t, tr.ID, s.TraceID())
				v, _ := s.Attributes().Get("http.status_code")
				assert.Equal(t, "200", v.Str())
			}
		}
	}
	assert.Greater(t, deep, 10)
	assert.Less(t, deep, 40)
}

func TestInjection(t *testing.T) {
	g := New(Options{Mesh: Istio, FlagRate: 1, Seed: 2})
	tr := g.Next()
	require.True(t, tr.Failure)
	k := spansByKind(tr.Traces)
	assert.Equal(t, k[ptrace.SpanKindClient], k[ptrace.SpanKindServer], "a UF/UH hop has no server span")

	g = New(Options{Mesh: Istio, CanaryShare: 1, Seed: 3})
	tr = g.Next()
	require.True(t, tr.Canary)
	assert.Equal(t, 9, tr.Traces.SpanCount(), "canary v3 calls ratings")
	found := false
	for _, rs := range tr.Traces.ResourceSpans().All() {
		for _, s := range rs.ScopeSpans().At(0).Spans().All() {
			if c, ok := s.Attributes().Get("upstream_cluster"); ok && c.Str() == "outbound|9080|v3|reviews.bookinfo.svc.cluster.local" {
				found = true
			}
			v, _ := s.Attributes().Get("x-canary")
			assert.Equal(t, "always", v.Str())
		}
	}
	assert.True(t, found)
}

func TestLinkerdSchemas(t *testing.T) {
	for schema, key := range map[int]string{217: "http.method", 218: "http.request.method", 219: "url.full"} {
		g := New(Options{Mesh: Linkerd, LinkerdSchema: schema, Seed: 4})
		tr := g.Next()
		assert.Equal(t, 10, tr.Traces.SpanCount(), "inbound pair + two meshed hops of four")
		s := tr.Traces.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
		_, ok := s.Attributes().Get(key)
		assert.True(t, ok, "schema %d writes %s", schema, key)
		assert.Equal(t, ptrace.StatusCodeUnset, s.Status().Code())
	}
}

func TestEnvoyShape(t *testing.T) {
	tr := New(Options{Mesh: Envoy, Seed: 5}).Next()
	assert.Equal(t, 3, tr.Traces.SpanCount())
	assert.Equal(t, 2, tr.Traces.ResourceSpans().Len())
}
