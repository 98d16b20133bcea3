package meshgen

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// envoyBuild is a plain Envoy build string (not an istio/proxy SHA).
const envoyBuild = "6a1b2c3d4e5f60718293a4b5c6d7e8f901234567/1.34.1/Clean/RELEASE/BoringSSL"

func (b *builder) envoySpans(service string) ptrace.SpanSlice {
	return b.proxy(service, map[string]any{
		"service.name":           service,
		"telemetry.sdk.language": "cpp",
		"telemetry.sdk.name":     "envoy",
		"telemetry.sdk.version":  envoyBuild,
	}, "envoy", envoyBuild)
}

// frontEnvoy: a front proxy (ingress SERVER + egress CLIENT) in front of a
// service's own Envoy (ingress SERVER), plain cluster names, no Istio tags.
func (b *builder) frontEnvoy(start time.Time) {
	status, flags := "200", "-"
	switch {
	case b.tr.Error:
		status = "500"
	case b.tr.Failure:
		status, flags = "503", "UH"
	}
	d := 8 * time.Millisecond
	if b.tr.Slow {
		d += b.g.opts.SlowBy
	}
	tags := func(node, cluster string) map[string]string {
		t := map[string]string{
			"node_id": node, "zone": "", "guid:x-request-id": b.requestID(),
			"http.url": "http://api.example.com/orders/7", "http.method": "GET", "http.protocol": "HTTP/2",
			"upstream_cluster": cluster, "http.status_code": status, "response_flags": flags, "component": "proxy",
		}
		if b.tr.Canary {
			t["x-canary"] = "always"
		}
		return t
	}
	front := b.envoySpans("front-envoy")
	ingress := tags("front-envoy-1", "service_orders")
	ingress["peer.address"] = "198.51.100.4:40112"
	s1 := b.span(front, pcommon.SpanID{}, "api.example.com:80/orders*", ptrace.SpanKindServer, start, d+2*time.Millisecond, ingress)
	egress := tags("front-envoy-1", "service_orders")
	egress["upstream_address"] = "10.0.3.7:8080"
	s2 := b.span(front, s1, "egress orders:8080", ptrace.SpanKindClient, start.Add(500*time.Microsecond), d+time.Millisecond, egress)
	if flags != "-" {
		return
	}
	b.span(b.envoySpans("orders"), s2, "ingress", ptrace.SpanKindServer, start.Add(time.Millisecond), d, tags("orders-envoy-1", "local_orders"))
}
