package meshgen

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// linkerdPod is an emojivoto workload with a linkerd2-proxy.
type linkerdPod struct {
	app, deployment, version, ns, pod, ip string
}

func (b *builder) linkerdPod(app, deployment, version string) linkerdPod {
	return stablePod(b.g, b.g.linkerdPods, deployment, func() linkerdPod {
		return linkerdPod{app: app, deployment: deployment, version: version, ns: "emojivoto", ip: b.ip(),
			pod: fmt.Sprintf("%s-%x-%05x", deployment, b.g.rnd.Uint32()&0xfffffff, b.g.rnd.Uint32()&0xfffff)}
	})
}

// linkerdSpans: service.name linkerd-proxy (injector default before 2.19),
// every pod label as a raw resource key, no scope.
func (b *builder) linkerdSpans(p linkerdPod) ptrace.SpanSlice {
	res := map[string]any{
		"service.name":                p.app, // 2.19: the injector's app.kubernetes.io/name
		"process.pid":                 int64(1),
		"process.start_timestamp":     int64(1_700_000_000),
		"host.name":                   p.pod,
		"app":                         p.app,
		"version":                     p.version,
		"pod-template-hash":           "7d9c8b7f6",
		"linkerd.io/control-plane-ns": "linkerd",
		"linkerd.io/proxy-deployment": p.deployment,
		"linkerd.io/workload-ns":      p.ns,
	}
	if b.g.opts.LinkerdSchema < 219 {
		res["service.name"] = "linkerd-proxy"
	}
	return b.proxy(p.pod, res, "", "")
}

// linkerdTags writes the request/response tags in the proxy's schema.
func (b *builder) linkerdTags(direction, method, authority, path, status string) map[string]string {
	t := map[string]string{"direction": direction}
	switch b.g.opts.LinkerdSchema {
	case 217:
		t["http.method"] = method
		t["http.path"] = path
		t["http.authority"] = authority
		t["http.host"] = authority
		t["http.status_code"] = status
	default:
		t["http.request.method"] = method
		t["url.scheme"] = "http"
		t["url.path"] = path
		t["server.address"] = authority[:len(authority)-5]
		t["server.port"] = authority[len(authority)-4:]
		t["http.response.status_code"] = status
		if b.g.opts.LinkerdSchema >= 219 {
			t["url.full"] = "http://" + authority + path
			t["network.transport"] = "tcp"
			t["user_agent.original"] = "grpc-go/1.60.1"
			t["http.request.header.l5d-orig-proto"] = "HTTP/1.1"
		}
	}
	return t
}

// meshedHop: the four spans of one meshed call — the client's outbound proxy
// (SERVER then CLIENT) and the server's inbound proxy (SERVER then CLIENT to
// the app). Span names are raw paths, and the status is never set.
func (b *builder) meshedHop(from, to linkerdPod, parent pcommon.SpanID, path string, start time.Time, d time.Duration, status string) pcommon.SpanID {
	// The authority is the apex service even when a canary deployment serves.
	authority := to.app + "." + to.ns + ".svc.cluster.local:8080"
	out := b.linkerdSpans(from)
	s1 := b.span(out, parent, path, ptrace.SpanKindServer, start, d, b.linkerdTags("outbound", "POST", authority, path, status))
	s2 := b.span(out, s1, path, ptrace.SpanKindClient, start.Add(100*time.Microsecond), d-200*time.Microsecond, b.linkerdTags("outbound", "POST", authority, path, status))
	if status == "502" {
		return s2 // the proxy could not reach the server
	}
	in := b.linkerdSpans(to)
	s3 := b.span(in, s2, path, ptrace.SpanKindServer, start.Add(300*time.Microsecond), d-600*time.Microsecond, b.linkerdTags("inbound", "POST", authority, path, status))
	return b.span(in, s3, path, ptrace.SpanKindClient, start.Add(400*time.Microsecond), d-800*time.Microsecond, b.linkerdTags("inbound", "POST", authority, path, status))
}

// emojivoto: web (entered through its inbound proxy) → emoji, and → voting
// (or the voting-canary deployment).
func (b *builder) emojivoto(start time.Time) {
	web := b.linkerdPod("web-svc", "web", "v11")
	emoji := b.linkerdPod("emoji-svc", "emoji", "v11")
	voting := b.linkerdPod("voting-svc", "voting", "v11")
	if b.tr.Canary {
		voting = b.linkerdPod("voting-svc", "voting-canary", "v12")
	}
	status := "200"
	switch {
	case b.tr.Error:
		status = "500"
	case b.tr.Failure:
		status = "502"
	}
	slow := time.Duration(0)
	if b.tr.Slow {
		slow = b.g.opts.SlowBy
	}
	total := 30*time.Millisecond + slow
	in := b.linkerdSpans(web)
	authority := "web-svc.emojivoto.svc.cluster.local:8080"
	s1 := b.span(in, pcommon.SpanID{}, "/api/vote", ptrace.SpanKindServer, start, total, b.linkerdTags("inbound", "GET", authority, "/api/vote?choice=:rocket:", status))
	s2 := b.span(in, s1, "/api/vote", ptrace.SpanKindClient, start.Add(100*time.Microsecond), total-200*time.Microsecond, b.linkerdTags("inbound", "GET", authority, "/api/vote?choice=:rocket:", status))
	b.meshedHop(web, emoji, s2, "/emojivoto.v1.EmojiService/FindByShortcode", start.Add(time.Millisecond), 5*time.Millisecond, "200")
	b.meshedHop(web, voting, s2, "/emojivoto.v1.VotingService/VoteRocket", start.Add(7*time.Millisecond), 10*time.Millisecond+slow, status)
}
