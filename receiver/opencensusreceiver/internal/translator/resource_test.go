package translator

import (
	"testing"

	commonpb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/common/v1"
	resourcepb "github.com/census-instrumentation/opencensus-proto/gen-go/resource/v1"
	tracepb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// linkerdNode is the Node a Linkerd 2.17 proxy sends (app/src/oc_collector.rs):
// service name, process identifier and the pod's labels, no library info.
func linkerdNode() *commonpb.Node {
	return &commonpb.Node{
		Identifier: &commonpb.ProcessIdentifier{
			HostName:       "web-7c9f8d6b5-x2x8q",
			Pid:            1,
			StartTimestamp: &timestamppb.Timestamp{Seconds: 1714550000, Nanos: 987654321},
		},
		ServiceInfo: &commonpb.ServiceInfo{Name: "linkerd-proxy"},
		Attributes: map[string]string{
			"app":                         "web",
			"version":                     "v2",
			"pod-template-hash":           "7c9f8d6b5",
			"linkerd.io/proxy-deployment": "web",
			"linkerd.io/workload-ns":      "emojivoto",
			"linkerd.io/control-plane-ns": "linkerd",
		},
	}
}

func resourceOf(t *testing.T, node *commonpb.Node, res *resourcepb.Resource) map[string]any {
	t.Helper()
	td, err := Traces(node, res, []*tracepb.Span{validSpan()})
	require.NoError(t, err)
	require.Equal(t, 1, td.ResourceSpans().Len())
	return td.ResourceSpans().At(0).Resource().Attributes().AsRaw()
}

func TestResource(t *testing.T) {
	tests := []struct {
		name string
		node *commonpb.Node
		res  *resourcepb.Resource
		want map[string]any
	}{
		{"no node, no resource", nil, nil, map[string]any{}},
		{
			name: "Linkerd 2.17 proxy",
			node: linkerdNode(),
			want: map[string]any{
				"service.name":                "linkerd-proxy",
				"host.name":                   "web-7c9f8d6b5-x2x8q",
				"process.pid":                 int64(1),
				"process.start_timestamp":     int64(1714550000),
				"app":                         "web",
				"version":                     "v2",
				"pod-template-hash":           "7c9f8d6b5",
				"linkerd.io/proxy-deployment": "web",
				"linkerd.io/workload-ns":      "emojivoto",
				"linkerd.io/control-plane-ns": "linkerd",
			},
		},
		{
			name: "OpenCensus Go exporter with library info",
			node: &commonpb.Node{
				Identifier:  &commonpb.ProcessIdentifier{HostName: "checkout-1", Pid: 4242},
				LibraryInfo: &commonpb.LibraryInfo{Language: commonpb.LibraryInfo_GO_LANG, ExporterVersion: "0.7.0", CoreLibraryVersion: "0.24.0"},
				ServiceInfo: &commonpb.ServiceInfo{Name: "checkout"},
			},
			want: map[string]any{
				"service.name":                "checkout",
				"host.name":                   "checkout-1",
				"process.pid":                 int64(4242),
				"telemetry.sdk.name":          "opencensus",
				"telemetry.sdk.language":      "go",
				"telemetry.sdk.version":       "0.24.0",
				"opencensus.exporter_version": "0.7.0",
			},
		},
		{
			name: "library info without language or versions",
			node: &commonpb.Node{LibraryInfo: &commonpb.LibraryInfo{}},
			want: map[string]any{"telemetry.sdk.name": "opencensus"},
		},
		{
			name: "empty node fields are left out",
			node: &commonpb.Node{Identifier: &commonpb.ProcessIdentifier{}, ServiceInfo: &commonpb.ServiceInfo{}},
			want: map[string]any{},
		},
		{
			name: "start timestamp at the epoch",
			node: &commonpb.Node{Identifier: &commonpb.ProcessIdentifier{StartTimestamp: &timestamppb.Timestamp{}}},
			want: map[string]any{"process.start_timestamp": int64(0)},
		},
		{
			name: "resource type and labels",
			res:  &resourcepb.Resource{Type: "k8s", Labels: map[string]string{"k8s.pod.name": "web-1", "k8s.namespace.name": "shop"}},
			want: map[string]any{"opencensus.resource_type": "k8s", "k8s.pod.name": "web-1", "k8s.namespace.name": "shop"},
		},
		{
			name: "node attributes override node identity, resource labels override both",
			node: &commonpb.Node{
				ServiceInfo: &commonpb.ServiceInfo{Name: "linkerd-proxy"},
				Identifier:  &commonpb.ProcessIdentifier{HostName: "pod-a"},
				Attributes:  map[string]string{"service.name": "web", "app": "from-node"},
			},
			res:  &resourcepb.Resource{Labels: map[string]string{"app": "from-resource"}},
			want: map[string]any{"service.name": "web", "host.name": "pod-a", "app": "from-resource"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, resourceOf(t, tt.node, tt.res))
		})
	}
}

func TestResourceLanguages(t *testing.T) {
	want := map[commonpb.LibraryInfo_Language]string{
		commonpb.LibraryInfo_CPP:     "cpp",
		commonpb.LibraryInfo_C_SHARP: "dotnet",
		commonpb.LibraryInfo_ERLANG:  "erlang",
		commonpb.LibraryInfo_GO_LANG: "go",
		commonpb.LibraryInfo_JAVA:    "java",
		commonpb.LibraryInfo_NODE_JS: "nodejs",
		commonpb.LibraryInfo_PHP:     "php",
		commonpb.LibraryInfo_PYTHON:  "python",
		commonpb.LibraryInfo_RUBY:    "ruby",
		commonpb.LibraryInfo_WEB_JS:  "webjs",
	}
	for lang, name := range commonpb.LibraryInfo_Language_name {
		l := commonpb.LibraryInfo_Language(lang)
		t.Run(name, func(t *testing.T) {
			got := resourceOf(t, &commonpb.Node{LibraryInfo: &commonpb.LibraryInfo{Language: l}}, nil)
			if l == commonpb.LibraryInfo_LANGUAGE_UNSPECIFIED {
				assert.NotContains(t, got, "telemetry.sdk.language")
				return
			}
			assert.Equal(t, want[l], got["telemetry.sdk.language"])
		})
	}
	assert.Len(t, want, len(commonpb.LibraryInfo_Language_name)-1, "every language is mapped")
}

func TestMalformedNode(t *testing.T) {
	tests := []struct {
		name    string
		ts      *timestamppb.Timestamp
		wantErr string
	}{
		{"before epoch", &timestamppb.Timestamp{Seconds: -5}, "node.identifier.start_timestamp is before the Unix epoch (seconds -5)"},
		{"bad nanos", &timestamppb.Timestamp{Seconds: 5, Nanos: 2e9}, "node.identifier.start_timestamp has nanos 2000000000 outside [0, 999999999]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := &commonpb.Node{Identifier: &commonpb.ProcessIdentifier{StartTimestamp: tt.ts}}
			_, err := Traces(node, nil, []*tracepb.Span{validSpan()})
			require.EqualError(t, err, tt.wantErr)
		})
	}
}
