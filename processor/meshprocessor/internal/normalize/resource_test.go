package normalize

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
