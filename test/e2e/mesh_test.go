package e2e

import (
	"strconv"
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
	proxySpans := map[pcommon.SpanID]sentSpan{}
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
			recordSentSpans(tr.Traces, proxySpans)
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
			assertKialiSafe(t, f, rs, proxySpans[span.SpanID()])
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

// sentSpan is what a proxy span carried when meshgen sent it.
type sentSpan struct {
	service, name string
	attrs         map[string]any
}

// sendTraces sends n meshgen traces of opts to a collector's OTLP/gRPC
// receiver, as the proxies would, records what each span carried into sent
// (when not nil), and returns how many spans it sent.
func sendTraces(t *testing.T, endpoint string, opts meshgen.Options, n int, sent map[pcommon.SpanID]sentSpan) int {
	t.Helper()
	sender, err := meshgen.NewSender("otlp", endpoint, opts)
	require.NoError(t, err)
	g := meshgen.New(opts)
	total := 0
	for range n {
		tr := g.Next()
		total += tr.Traces.SpanCount()
		if sent != nil {
			recordSentSpans(tr.Traces, sent)
		}
		require.NoError(t, sender.Send(t.Context(), tr.Traces))
	}
	require.NoError(t, sender.Close())
	return total
}

func recordSentSpans(td ptrace.Traces, into map[pcommon.SpanID]sentSpan) {
	for _, rs := range td.ResourceSpans().All() {
		svc, _ := rs.Resource().Attributes().Get("service.name")
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				into[span.SpanID()] = sentSpan{service: svc.Str(), name: span.Name(), attrs: span.Attributes().AsRaw()}
			}
		}
	}
}

// kialiTags are the span tags Kiali reads from stored traces (besides istio.*).
var kialiTags = []string{"node_id", "upstream_cluster", "http.status_code", "http.url", "http.method",
	"response_flags", "component", "peer.address", "hostname", "error"}

// assertKialiSafe checks an Istio proxy span the default mesh configuration
// passed on: Kiali looks it up by the proxy's service.name ("reviews.bookinfo")
// and span name ("reviews.bookinfo.svc.cluster.local:9080/*"), reads its tags
// as the proxy wrote them, and finds 5xx and error=true spans through status
// Error (Jaeger's error=true).
func assertKialiSafe(t *testing.T, flow string, rs receivedSpan, want sentSpan) {
	t.Helper()
	require.NotEmpty(t, want.name, "%s: span not sent", flow)
	res := rs.Resource.Resource().Attributes().AsRaw()
	span := rs.Span
	attrs := span.Attributes().AsRaw()
	assert.Equal(t, want.service, res["service.name"], "%s: the proxy's service.name", flow)
	assert.Contains(t, want.service, ".", "%s: Istio's <app>.<namespace>", flow)
	assert.Equal(t, res["k8s.namespace.name"], res["service.namespace"], "%s: the namespace is still promoted", flow)
	name := want.name
	if flow == "istio-zipkin" {
		name = strings.ToLower(name) // Zipkin span names are lower case
	}
	assert.Equal(t, name, span.Name(), "%s: the proxy's span name", flow)
	for _, key := range kialiTags {
		v, ok := want.attrs[key]
		if !ok || (key == "error" && flow == "istio-zipkin") { // the Zipkin receiver turns error=true into the status
			continue
		}
		assert.Equal(t, v, attrs[key], "%s: %s as the proxy sent it", flow, key)
	}
	for key, v := range want.attrs {
		if strings.HasPrefix(key, "istio.") {
			assert.Equal(t, v, attrs[key], "%s: %s", flow, key)
		}
	}
	code, _ := want.attrs["http.status_code"].(string)
	if n, err := strconv.Atoi(code); (err == nil && n >= 500) || want.attrs["error"] == "true" {
		assert.Equal(t, ptrace.StatusCodeError, span.Status().Code(), "%s: %s status %s", flow, span.Name(), code)
	}
}

// TestMeshSemconvNaming runs the same Istio traffic with naming: semconv:
// service.name becomes the canonical service and span names {method} {route}
// or {method}, the proxy's names kept in mesh.service.name.original and
// mesh.span.original_name.
func TestMeshSemconvNaming(t *testing.T) {
	s := startSink(t)
	c := startCollector(t, strings.Replace(meshConfig, "  mesh:\n", "  mesh:\n    naming: semconv\n", 1), s.addr)
	sentSpans := map[pcommon.SpanID]sentSpan{}
	total := sendTraces(t, c.ports.OTLPGRPC, meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.2, Seed: 11}, 10, sentSpans)

	spans := s.waitForSpans(t, total, 30*time.Second)
	require.Len(t, spans, total)
	for _, rs := range spans {
		res := rs.Resource.Resource().Attributes().AsRaw()
		attrs := rs.Span.Attributes().AsRaw()
		want := sentSpans[rs.Span.SpanID()]
		require.NotEmpty(t, want.name)
		assert.Equal(t, want.service, res["mesh.service.name.original"])
		assert.NotContains(t, res["service.name"], ".", "the canonical service, not <app>.<namespace>")
		assert.Equal(t, want.name, attrs["mesh.span.original_name"])
		method, _ := attrs["http.request.method"].(string)
		assert.True(t, rs.Span.Name() == method || strings.HasPrefix(rs.Span.Name(), method+" /"),
			"span name %q is {method} or {method} {route}", rs.Span.Name())
		assert.Equal(t, want.attrs["upstream_cluster"], attrs["upstream_cluster"], "original tags stay")
	}
}

// TestShippedGatewayKialiSafe sends Istio traffic through the shipped
// configs/gateway.yaml (mesh tail sampling on): the kept proxy spans keep
// what Kiali looks them up by, and the mesh processor reports the
// processorhelper item counts every processor has (incoming = spans received,
// outgoing = spans the sampler passed on), beside memory_limiter's.
func TestShippedGatewayKialiSafe(t *testing.T) {
	s := startSink(t)
	c := startGateway(t, s.addr)

	sentSpans := map[pcommon.SpanID]sentSpan{}
	total := sendTraces(t, c.ports.OTLPGRPC, meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.2, FlagRate: 0.1, CanaryShare: 0.1, Seed: 21}, 60, sentSpans)

	var m map[string]float64
	require.Eventually(t, func() bool {
		m = scrapeMetrics(t, c.ports.Metrics)
		s.mu.Lock()
		received := s.spans
		s.mu.Unlock()
		return m[`otelcol_processor_incoming_items|processor="mesh"`] == float64(total) &&
			m["otelcol_processor_mesh_sampling_traces_buffered"] == 0 &&
			m[`otelcol_processor_outgoing_items|processor="mesh"`] == float64(received) && received > 0
	}, 30*time.Second, 200*time.Millisecond, "mesh incoming/outgoing items: %v", m)
	assert.Equal(t, float64(total), m[`otelcol_processor_incoming_items|processor="memory_limiter"`], "the same metric as processorhelper's")
	assert.Less(t, m[`otelcol_processor_outgoing_items|processor="mesh"`], float64(total), "the sampler dropped some")

	errorSpans := 0
	for _, rs := range s.allSpans() {
		want := sentSpans[rs.Span.SpanID()]
		assertKialiSafe(t, "istio-otlp", rs, want)
		if rs.Span.Status().Code() == ptrace.StatusCodeError {
			errorSpans++
		}
	}
	assert.Positive(t, errorSpans)
}
