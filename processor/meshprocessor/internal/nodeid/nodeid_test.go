package nodeid

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Node
		mode string
	}{
		{"sidecar~10.244.0.22~ratings-v1-77bdbf89bb-qd48j.bookinfo~bookinfo.svc.cluster.local", Node{Type: "sidecar", IP: "10.244.0.22", Pod: "ratings-v1-77bdbf89bb-qd48j", Namespace: "bookinfo"}, "sidecar"},
		{"router~10.244.0.5~istio-ingressgateway-5d9f7c8b4-x2k8p.istio-system~istio-system.svc.cluster.local", Node{Type: "router", IP: "10.244.0.5", Pod: "istio-ingressgateway-5d9f7c8b4-x2k8p", Namespace: "istio-system"}, "gateway"},
		{"waypoint~10.244.1.9~waypoint-7d4b9c-abcde.bookinfo~bookinfo.svc.cluster.local", Node{Type: "waypoint", IP: "10.244.1.9", Pod: "waypoint-7d4b9c-abcde", Namespace: "bookinfo"}, "waypoint"},
		{"sidecar~fd00::1~web-1.prod~prod.svc.cluster.local", Node{Type: "sidecar", IP: "fd00::1", Pod: "web-1", Namespace: "prod"}, "sidecar"},
		{"sidecar~not-an-ip~web-1.prod~prod.svc.cluster.local", Node{Type: "sidecar", Pod: "web-1", Namespace: "prod"}, "sidecar"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got)
		assert.Equal(t, tt.mode, got.ProxyMode())
	}
	for _, bad := range []string{"", "envoy-1", "sidecar~1.2.3.4~pod~ns.svc.cluster.local", "proxy~1.2.3.4~p.ns~ns.svc.cluster.local", "sidecar~1.2.3.4~p.ns~other.svc.cluster.local", "sidecar~1.2.3.4~p.~ns.svc", "a~b~c~d~e"} {
		_, err := Parse(bad)
		assert.ErrorIs(t, err, ErrMalformed, bad)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("sidecar~10.244.0.22~ratings-v1-77bdbf89bb-qd48j.bookinfo~bookinfo.svc.cluster.local")
	f.Add("router~~.~")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err == nil && (n.Pod == "" || n.Namespace == "") {
			t.Fatalf("empty pod or namespace from %q", s)
		}
	})
}
