package translator

import (
	"testing"

	commonpb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/common/v1"
	resourcepb "github.com/census-instrumentation/opencensus-proto/gen-go/resource/v1"
	tracepb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/proto"
)

func spanNamed(name string, id byte) *tracepb.Span {
	s := validSpan()
	s.Name = &tracepb.TruncatableString{Value: name}
	s.SpanId = []byte{0, 0, 0, 0, 0, 0, 0, id}
	return s
}

type resourceGroup struct {
	attrs map[string]any
	spans []string
}

func groups(td ptrace.Traces) []resourceGroup {
	var out []resourceGroup
	for _, rs := range td.ResourceSpans().All() {
		g := resourceGroup{attrs: rs.Resource().Attributes().AsRaw()}
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				g.spans = append(g.spans, sp.Name())
			}
		}
		out = append(out, g)
	}
	return out
}

func TestTracesGrouping(t *testing.T) {
	node := &commonpb.Node{ServiceInfo: &commonpb.ServiceInfo{Name: "linkerd-proxy"}}
	msgRes := &resourcepb.Resource{Labels: map[string]string{"zone": "a"}}
	ownRes := func() *resourcepb.Resource {
		return &resourcepb.Resource{Type: "k8s", Labels: map[string]string{"k8s.pod.name": "other"}}
	}
	withRes := func(s *tracepb.Span, r *resourcepb.Resource) *tracepb.Span { s.Resource = r; return s }

	tests := []struct {
		name  string
		node  *commonpb.Node
		res   *resourcepb.Resource
		spans []*tracepb.Span
		want  []resourceGroup
	}{
		{"no spans", node, msgRes, nil, nil},
		{
			name:  "spans share the message resource in order",
			node:  node,
			res:   msgRes,
			spans: []*tracepb.Span{spanNamed("a", 1), spanNamed("b", 2), spanNamed("c", 3)},
			want:  []resourceGroup{{map[string]any{"service.name": "linkerd-proxy", "zone": "a"}, []string{"a", "b", "c"}}},
		},
		{
			name: "a span's own resource replaces the message resource, not the node",
			node: node,
			res:  msgRes,
			spans: []*tracepb.Span{
				spanNamed("a", 1),
				withRes(spanNamed("b", 2), ownRes()),
				spanNamed("c", 3),
				withRes(spanNamed("d", 4), ownRes()), // equal content: same group
				withRes(spanNamed("e", 5), &resourcepb.Resource{Labels: map[string]string{"k8s.pod.name": "third"}}),
			},
			want: []resourceGroup{
				{map[string]any{"service.name": "linkerd-proxy", "zone": "a"}, []string{"a", "c"}},
				{map[string]any{"service.name": "linkerd-proxy", "opencensus.resource_type": "k8s", "k8s.pod.name": "other"}, []string{"b", "d"}},
				{map[string]any{"service.name": "linkerd-proxy", "k8s.pod.name": "third"}, []string{"e"}},
			},
		},
		{
			name:  "only own resources",
			node:  nil,
			res:   nil,
			spans: []*tracepb.Span{withRes(spanNamed("a", 1), ownRes())},
			want:  []resourceGroup{{map[string]any{"opencensus.resource_type": "k8s", "k8s.pod.name": "other"}, []string{"a"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td, err := Traces(tt.node, tt.res, tt.spans)
			require.NoError(t, err)
			assert.Equal(t, tt.want, groups(td))
			assert.Equal(t, len(tt.spans), td.SpanCount())
			for _, rs := range td.ResourceSpans().All() {
				require.Equal(t, 1, rs.ScopeSpans().Len())
				assert.Empty(t, rs.ScopeSpans().At(0).Scope().Name(), "OpenCensus has no instrumentation scope")
			}
		})
	}
}

func TestTracesMalformedSpanIndexAndNil(t *testing.T) {
	bad := validSpan()
	bad.SpanId = []byte{1, 2, 3}
	_, err := Traces(nil, nil, []*tracepb.Span{validSpan(), validSpan(), bad})
	require.EqualError(t, err, "spans[2]: span_id must be 8 bytes, got 3")

	_, err = Traces(nil, nil, []*tracepb.Span{validSpan(), nil})
	require.EqualError(t, err, "spans[1]: missing")
}

func TestTracesDoesNotModifyInput(t *testing.T) {
	node := linkerdNode()
	res := &resourcepb.Resource{Type: "k8s", Labels: map[string]string{"a": "b"}}
	s := validSpan()
	s.Attributes = &tracepb.Span_Attributes{AttributeMap: map[string]*tracepb.AttributeValue{"k": str("v"), "untyped": {}}}
	s.Status = &tracepb.Status{Code: 2}
	req := &tracepb.Span{}
	proto.Merge(req, s)
	nodeBefore, resBefore := proto.Clone(node), proto.Clone(res)

	_, err := Traces(node, res, []*tracepb.Span{s})
	require.NoError(t, err)
	assert.True(t, proto.Equal(req, s), "span modified")
	assert.True(t, proto.Equal(nodeBefore, node), "node modified")
	assert.True(t, proto.Equal(resBefore, res), "resource modified")
}
