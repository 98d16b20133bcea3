package meshgen

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestProxyBatches(t *testing.T) {
	for _, mesh := range []Mesh{Istio, Linkerd, Envoy} {
		t.Run(string(mesh), func(t *testing.T) {
			g := New(Options{Mesh: mesh, Seed: 3, StablePods: true, CanaryShare: 0.2})
			b := NewProxyBatches(50)
			want := map[pcommon.TraceID]int{} // spans per trace
			var exports []Export
			for range 400 {
				tr := g.Next()
				want[tr.ID] = tr.Traces.SpanCount()
				require.Equal(t, tr.Traces.ResourceSpans().Len(), len(tr.Pods))
				exports = append(exports, b.Add(tr)...)
			}
			full := len(exports)
			exports = append(exports, b.Flush()...)
			assert.Empty(t, b.Flush())

			got := map[pcommon.TraceID]int{}
			pods := map[string]string{} // pod → service.name
			for i, e := range exports {
				require.Equal(t, 1, e.Traces.ResourceSpans().Len(), "one resource per export")
				if i < full {
					assert.Len(t, e.IDs, 50)
				} else {
					assert.NotEmpty(t, e.IDs)
					assert.Less(t, len(e.IDs), 50)
				}
				rs := e.Traces.ResourceSpans().At(0)
				svc, _ := rs.Resource().Attributes().Get("service.name")
				if prev, seen := pods[e.Pod]; seen {
					assert.Equal(t, prev, svc.Str(), "a pod's resource stays the same")
				}
				pods[e.Pod] = svc.Str()
				ids := map[pcommon.TraceID]bool{}
				for _, id := range e.IDs {
					ids[id] = true
				}
				for _, ss := range rs.ScopeSpans().All() {
					for _, s := range ss.Spans().All() {
						assert.True(t, ids[s.TraceID()], "a span of a trace listed in its export")
						got[s.TraceID()]++
					}
				}
			}
			assert.Equal(t, want, got, "every span exported once")
			assert.Less(t, len(pods), 10, "a few stable pods, not new ones per trace")
		})
	}
}

func TestPodsChangeWithoutStablePods(t *testing.T) {
	g := New(Options{Mesh: Istio, Seed: 3})
	a, b := g.Next(), g.Next()
	assert.NotEqual(t, a.Pods, b.Pods)
	s := New(Options{Mesh: Istio, Seed: 3, StablePods: true})
	a, b = s.Next(), s.Next()
	assert.Subset(t, a.Pods, b.Pods[:2], "the gateway and productpage pods stay")
}
