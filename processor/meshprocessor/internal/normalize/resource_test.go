package normalize

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestParseEnvoyVersion(t *testing.T) {
	tests := []struct{ in, sha, version string }{
		{"4382ac5fc1d362094bbba33283dbe60a3e1cef88/1.33.1-dev/Clean/RELEASE/BoringSSL", "4382ac5fc1d362094bbba33283dbe60a3e1cef88", "1.33.1-dev"},
		{"4382AC5FC1D3/1.33.1-dev/Modified/DEBUG/BoringSSL", "4382ac5fc1d3", "1.33.1-dev"},
		{"1.34.1", "", "1.34.1"},
	}
	for _, tt := range tests {
		sha, version, ok := parseEnvoyVersion(tt.in)
		assert.True(t, ok, tt.in)
		assert.Equal(t, tt.sha, sha, tt.in)
		assert.Equal(t, tt.version, version, tt.in)
	}
	for _, bad := range []string{"", "envoy", "zz/1.2.3/x", "abc/1.2.3", "4382ac5fc1d3/dev"} {
		_, _, ok := parseEnvoyVersion(bad)
		assert.False(t, ok, bad)
	}
	sha, version, ok := parseEnvoyUserAgent("OTel-OTLP-Exporter-Envoy/580bf9cc561a012d4eb14af48d496d6748307e59/1.28.1-dev/Clean/RELEASE/BoringSSL grpc-go/1.83.2")
	assert.True(t, ok)
	assert.Equal(t, "580bf9cc561a012d4eb14af48d496d6748307e59", sha)
	assert.Equal(t, "1.28.1-dev", version)
	_, _, ok = parseEnvoyUserAgent("grpc-go/1.83.2")
	assert.False(t, ok)
}

// TestExactVersionSurvivesASecondPass: a sidecar that learned the exact
// Istio release from the export's User-Agent writes mesh.version; the
// gateway behind it, without that User-Agent, must not add a lower bound
// (mesh.version.min) from the span tags.
func TestExactVersionSurvivesASecondPass(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "productpage.bookinfo")
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetKind(ptrace.SpanKindServer)
	span.Attributes().PutStr("node_id", "sidecar~10.0.0.9~productpage-v1-1.bookinfo~bookinfo.svc.cluster.local")
	span.Attributes().PutStr("istio.cluster_id", "Kubernetes") // says Istio ≥ 1.21
	n := New(goldenSettings(t))

	n.Traces(td, envoyUA)
	res := rs.Resource().Attributes()
	v, _ := res.Get("mesh.version")
	assert.Equal(t, "1.20.0", v.Str(), "from the User-Agent")
	_, hasMin := res.Get("mesh.version.min")
	assert.False(t, hasMin)

	n.Traces(td, "")
	v, _ = res.Get("mesh.version")
	assert.Equal(t, "1.20.0", v.Str())
	_, hasMin = res.Get("mesh.version.min")
	assert.False(t, hasMin, "the exact release stands; no lower bound beside it")
}
