package meshgen

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// istioPod is one bookinfo workload with an Istio sidecar (or the gateway).
type istioPod struct {
	app, version, ns, nodeType string
	ip, pod                    string
}

func (b *builder) istioPod(app, version, ns, nodeType string) istioPod {
	return stablePod(b.g, b.g.istioPods, app+"-"+version, func() istioPod {
		return istioPod{app: app, version: version, ns: ns, nodeType: nodeType, ip: b.ip(),
			pod: fmt.Sprintf("%s-%s-%x-%05x", app, version, b.g.rnd.Uint32()&0xfffffff, b.g.rnd.Uint32()&0xfffff)}
	})
}

// spans returns the span slice of the pod's proxy: an Envoy with Istio's OTel
// provider (service.name "<app>.<ns>", the istio/proxy SHA in telemetry.sdk.version).
func (b *builder) istioSpans(p istioPod) ptrace.SpanSlice {
	build := b.g.opts.IstioSHA + "/" + EnvoyVersion(b.g.opts.IstioRelease) + "/Clean/RELEASE/BoringSSL"
	return b.proxy(p.pod, map[string]any{
		"service.name":           p.app + "." + p.ns,
		"telemetry.sdk.language": "cpp",
		"telemetry.sdk.name":     "envoy",
		"telemetry.sdk.version":  build,
	}, "envoy", build)
}

// EnvoyVersion is the Envoy version Istio ships (minor + 8, as observed for
// 1.20 ↔ 1.28 and 1.25 ↔ 1.33).
func EnvoyVersion(istioRelease string) string {
	var major, minor int
	if _, err := fmt.Sscanf(istioRelease, "%d.%d", &major, &minor); err != nil {
		return "1.33.1-dev"
	}
	return fmt.Sprintf("%d.%d.1-dev", major, minor+8)
}

func (b *builder) istioTags(p istioPod, cluster, url, status, flags string) map[string]string {
	t := map[string]string{
		"node_id":                  fmt.Sprintf("%s~%s~%s.%s~%s.svc.cluster.local", p.nodeType, p.ip, p.pod, p.ns, p.ns),
		"zone":                     "europe-west1-b",
		"guid:x-request-id":        b.requestID(),
		"http.url":                 url,
		"http.method":              "GET",
		"http.protocol":            "HTTP/1.1",
		"downstream_cluster":       "-",
		"user_agent":               "Mozilla/5.0",
		"component":                "proxy",
		"upstream_cluster":         cluster,
		"upstream_cluster.name":    cluster + ";",
		"http.status_code":         status,
		"response_flags":           flags,
		"request_size":             "0",
		"response_size":            "1024",
		"istio.canonical_service":  p.app,
		"istio.canonical_revision": p.version,
		"istio.mesh_id":            "cluster.local",
		"istio.namespace":          p.ns,
		"istio.cluster_id":         "Kubernetes",
	}
	if b.tr.Canary {
		t["x-canary"] = "always" // Telemetry customTags.header
	}
	if status == "0" || status[0] == '5' {
		t["error"] = "true"
	}
	return t
}

// hop emits a sidecar-to-sidecar call: the caller's CLIENT span and, unless
// the proxy failed to connect, the callee's SERVER span. It returns the
// callee's span id and the time its work starts.
func (b *builder) hop(from, to istioPod, parent pcommon.SpanID, subset, path string, start time.Time, d time.Duration, status, flags string) (pcommon.SpanID, bool) {
	host := to.app + "." + to.ns + ".svc.cluster.local"
	decorator := host + ":9080/*"
	url := "http://" + to.app + ":9080" + path
	client := b.istioTags(from, "outbound|9080|"+subset+"|"+host, url, status, flags)
	client["upstream_address"] = to.ip + ":9080"
	client["peer.address"] = from.ip
	cid := b.span(b.istioSpans(from), parent, decorator, ptrace.SpanKindClient, start, d, client)
	if flags != "-" {
		return cid, false // UF/UH: the request never reached the callee
	}
	server := b.istioTags(to, "inbound|9080||", url, status, "-")
	server["peer.address"] = from.ip
	sid := b.span(b.istioSpans(to), cid, decorator, ptrace.SpanKindServer, start.Add(200*time.Microsecond), d-400*time.Microsecond, server)
	return sid, true
}

// bookinfo: ingress gateway → productpage → details, and → reviews (v1, v2,
// or the canary v3) → ratings (v2 and v3 only). 9 spans with ratings.
func (b *builder) bookinfo(start time.Time) {
	gw := b.istioPod("istio-ingressgateway", "latest", "istio-system", "router")
	productpage := b.istioPod("productpage", "v1", "bookinfo", "sidecar")
	details := b.istioPod("details", "v1", "bookinfo", "sidecar")
	reviewsVersion := []string{"v1", "v2"}[b.g.rnd.IntN(2)]
	if b.tr.Canary {
		reviewsVersion = "v3"
	}
	reviews := b.istioPod("reviews", reviewsVersion, "bookinfo", "sidecar")
	ratings := b.istioPod("ratings", "v1", "bookinfo", "sidecar")

	deep := reviewsVersion != "v1" // reviews v2/v3 call ratings
	status, flags := "200", "-"
	switch {
	case b.tr.Error:
		status = "500"
	case b.tr.Failure:
		status, flags = "503", []string{"UF", "UH"}[b.g.rnd.IntN(2)]
	}
	slow := time.Duration(0)
	if b.tr.Slow {
		slow = b.g.opts.SlowBy
	}
	ratingsDur := 3*time.Millisecond + slow
	reviewsDur := 6*time.Millisecond + ratingsDur
	total := 20*time.Millisecond + reviewsDur
	// Errors propagate up as 500 / 503 except at productpage, which degrades.
	top := "200"

	// Gateway: SERVER span named by the route decorator, and the spawned
	// upstream CLIENT span "router <cluster> egress".
	ppHost := "productpage.bookinfo.svc.cluster.local"
	gwServer := b.istioTags(gw, "outbound|9080||"+ppHost, "http://bookinfo.example.com/productpage", top, "-")
	gwServer["peer.address"] = "203.0.113.9:53422"
	gwID := b.span(b.istioSpans(gw), pcommon.SpanID{}, ppHost+":9080/productpage", ptrace.SpanKindServer, start, total, gwServer)
	gwClient := b.istioTags(gw, "outbound|9080||"+ppHost, "http://bookinfo.example.com/productpage", top, "-")
	gwClient["upstream_address"] = productpage.ip + ":9080"
	gwClientID := b.span(b.istioSpans(gw), gwID, "router outbound|9080||"+ppHost+"; egress", ptrace.SpanKindClient, start.Add(100*time.Microsecond), total-200*time.Microsecond, gwClient)
	ppServer := b.istioTags(productpage, "inbound|9080||", "http://bookinfo.example.com/productpage", top, "-")
	ppServer["peer.address"] = gw.ip
	ppID := b.span(b.istioSpans(productpage), gwClientID, ppHost+":9080/productpage", ptrace.SpanKindServer, start.Add(300*time.Microsecond), total-600*time.Microsecond, ppServer)

	t := start.Add(time.Millisecond)
	b.hop(productpage, details, ppID, "", "/details/0", t, 4*time.Millisecond, "200", "-")
	t = t.Add(5 * time.Millisecond)
	reviewsStatus, reviewsFlags := "200", "-"
	if !deep {
		reviewsStatus, reviewsFlags = status, flags
	}
	if deep && (b.tr.Error || b.tr.Failure) {
		reviewsStatus = "500"
	}
	rvID, reached := b.hop(productpage, reviews, ppID, reviewsVersion, "/reviews/0", t, reviewsDur, reviewsStatus, reviewsFlags)
	if deep && reached {
		b.hop(reviews, ratings, rvID, "", "/ratings/0", t.Add(2*time.Millisecond), ratingsDur, status, flags)
	}
}
