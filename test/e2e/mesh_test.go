package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

// meshConfig runs the mesh processor between the OTLP/Zipkin receivers and the sink.
const meshConfig = `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {{.OTLPGRPC}}
        include_metadata: true
  zipkin:
    endpoint: {{.Zipkin}}
processors:
  mesh:
    canary:
      resource_labels:
        linkerd.io/proxy-deployment: [voting-canary]
service:
  pipelines:
    traces:
      receivers: [otlp, zipkin]
      processors: [mesh]
      exporters: [otlp_grpc]
`

// flow is one kind of traffic meshgen sends in the test.
type flow struct {
	name     string
	protocol string
	opts     meshgen.Options
	traces   int
}

func TestMeshTrafficIsNormalized(t *testing.T) {
	s := startSink(t)
	c := startCollector(t, meshConfig, s.addr)

	flows := []flow{
		{"istio-otlp", "otlp", meshgen.Options{Mesh: meshgen.Istio, CanaryShare: 0.3, FlagRate: 0.2, ErrorRate: 0.1, Seed: 1}, 30},
		{"istio-zipkin", "zipkin", meshgen.Options{Mesh: meshgen.Istio, CanaryShare: 0.3, Seed: 2}, 10},
		{"linkerd-217", "otlp", meshgen.Options{Mesh: meshgen.Linkerd, LinkerdSchema: 217, CanaryShare: 0.5, Seed: 3}, 10},
		{"linkerd-219", "otlp", meshgen.Options{Mesh: meshgen.Linkerd, LinkerdSchema: 219, ErrorRate: 0.3, Seed: 4}, 10},
		{"envoy", "otlp", meshgen.Options{Mesh: meshgen.Envoy, FlagRate: 0.3, Seed: 5}, 10},
	}
	sent := map[pcommon.TraceID]meshgen.Trace{}
	flowOf := map[pcommon.TraceID]string{}
	total := 0
	for _, f := range flows {
		endpoint := c.ports.OTLPGRPC
		if f.protocol == "zipkin" {
			endpoint = c.ports.Zipkin
		}
		sender, err := meshgen.NewSender(f.protocol, endpoint, f.opts)
		require.NoError(t, err)
		g := meshgen.New(f.opts)
		for range f.traces {
			tr := g.Next()
			sent[tr.ID], flowOf[tr.ID] = tr, f.name
			total += tr.Traces.SpanCount()
			require.NoError(t, sender.Send(t.Context(), tr.Traces))
		}
		require.NoError(t, sender.Close())
	}

	spans := s.waitForSpans(t, total, 30*time.Second)
	require.Len(t, spans, total)

	canaryTraces, failureSpans := 0, 0
	for _, rs := range spans {
		res := rs.Resource.Resource().Attributes().AsRaw()
		span := rs.Span
		attrs := span.Attributes().AsRaw()
		tr, ok := sent[span.TraceID()]
		require.True(t, ok, "unknown trace")
		f := flowOf[span.TraceID()]

		assert.False(t, strings.HasPrefix(span.Name(), "/"), "%s: raw path %q as span name", f, span.Name())
		assert.Contains(t, []string{"inbound", "outbound"}, attrs["mesh.direction"], f)
		assert.IsType(t, true, attrs["mesh.canary"], f)
		if code, ok := attrs["http.response.status_code"]; ok {
			assert.IsType(t, int64(0), code, "%s: status code must be an int", f)
		}
		assert.Contains(t, []any{"GET", "POST"}, attrs["http.request.method"], f)

		switch f {
		case "istio-otlp":
			assert.Equal(t, "istio", res["mesh.name"])
			assert.Equal(t, "envoy", res["mesh.proxy"])
			assert.Equal(t, "1.25.0", res["mesh.version"])
			assert.Equal(t, "1.33.1-dev", res["mesh.proxy.version"])
			assert.Equal(t, tr.Canary, attrs["mesh.canary"], "x-canary header rule")
		case "istio-zipkin":
			assert.Equal(t, "istio", res["mesh.name"])
			assert.Equal(t, "1.23", res["mesh.version.min"], "only the tag-set bound: Zipkin carries no build")
			assert.NotContains(t, res, "mesh.version")
			assert.Equal(t, tr.Canary, attrs["mesh.canary"])
		case "linkerd-217", "linkerd-219":
			assert.Equal(t, "linkerd", res["mesh.name"])
			assert.Equal(t, "linkerd2-proxy", res["mesh.proxy"])
			assert.Equal(t, "emojivoto", res["k8s.namespace.name"])
			if f == "linkerd-219" {
				assert.Equal(t, "2.19", res["mesh.version.min"])
			} else {
				assert.NotContains(t, res, "mesh.version.min")
				assert.NotEqual(t, "linkerd-proxy", res["service.name"], "placeholder replaced")
			}
			servedByCanary := res["linkerd.io/proxy-deployment"] == "voting-canary" && attrs["mesh.direction"] == "inbound"
			assert.Equal(t, servedByCanary, attrs["mesh.canary"], "resource label rule on inbound spans")
		case "envoy":
			assert.Equal(t, "envoy", res["mesh.name"])
			assert.Equal(t, "1.34.1", res["mesh.proxy.version"])
		}
		if strings.HasPrefix(f, "istio") {
			assert.Contains(t, []any{"sidecar", "gateway"}, res["mesh.proxy.mode"])
			assert.Contains(t, []any{"bookinfo", "istio-system"}, res["k8s.namespace.name"], f)
			if span.Kind() == ptrace.SpanKindClient && attrs["mesh.destination.service"] == "reviews" {
				assert.Contains(t, []any{"v1", "v2", "v3"}, attrs["mesh.destination.subset"])
				assert.Equal(t, int64(9080), attrs["mesh.destination.port"])
			}
		}
		if tr.Canary {
			canaryTraces++
		}
		if flags, ok := attrs["mesh.response_flags"]; ok && (flags == "UF" || flags == "UH") {
			failureSpans++
			assert.Equal(t, ptrace.StatusCodeError, span.Status().Code())
			assert.Equal(t, flags, attrs["error.type"])
		}
	}
	t.Logf("%d spans, %d in canary traces, %d proxy-failure spans", total, canaryTraces, failureSpans)
	assert.Positive(t, canaryTraces)
	assert.Positive(t, failureSpans)
}
