package meshprocessor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadata"
)

// An Envoy that exports without telemetry.sdk.* (set_telemetry_sdk_resource_attributes:
// false) and without a scope version is still versioned from the export's
// User-Agent when the receiver runs with include_metadata.
func TestVersionFromUserAgent(t *testing.T) {
	for _, tt := range []struct {
		naming, service, spanName string
	}{
		// Default: the names Kiali looks traces up by stay.
		{namingKiali, "productpage.bookinfo", "productpage.bookinfo.svc.cluster.local:9080/productpage"},
		{namingSemconv, "productpage", "GET /productpage"},
	} {
		t.Run(tt.naming, func(t *testing.T) {
			td := ptrace.NewTraces()
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", "productpage.bookinfo")
			span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			span.SetName("productpage.bookinfo.svc.cluster.local:9080/productpage")
			span.SetKind(ptrace.SpanKindServer)
			span.Attributes().PutStr("node_id", "sidecar~10.0.0.9~productpage-v1-1.bookinfo~bookinfo.svc.cluster.local")
			span.Attributes().PutStr("http.method", "GET")

			cfg := createDefaultConfig().(*Config)
			cfg.Naming = tt.naming
			p, err := newMeshProcessor(processortest.NewNopSettings(metadata.Type), cfg)
			assert.NoError(t, err)
			ctx := client.NewContext(t.Context(), client.Info{Metadata: client.NewMetadata(map[string][]string{
				"user-agent": {"OTel-OTLP-Exporter-Envoy/580bf9cc561a012d4eb14af48d496d6748307e59/1.28.1-dev/Clean/RELEASE/BoringSSL grpc-go/1.83.2"},
			})})
			_, err = p.processTraces(ctx, td)
			assert.NoError(t, err)
			res := td.ResourceSpans().At(0).Resource().Attributes().AsRaw()
			assert.Equal(t, "1.20.0", res["mesh.version"])
			assert.Equal(t, "1.28.1-dev", res["mesh.proxy.version"])
			assert.Equal(t, tt.service, res["service.name"])
			assert.Equal(t, "bookinfo", res["service.namespace"])
			assert.Equal(t, "productpage-v1-1", res["k8s.pod.name"])
			assert.Equal(t, tt.spanName, span.Name())
			assert.Equal(t, "/productpage", span.Attributes().AsRaw()["http.route"])
		})
	}
}
