package normalize // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/normalize"

import (
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/responseflags"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/semconv"
)

// maxURLLen bounds the URLs the processor copies into url.* keys; longer
// values are counted as malformed (their credentials are still redacted).
const maxURLLen = 16 << 10

// httpFacts gathers what a proxy span says about its HTTP exchange, so that
// status and name are decided once from all of it.
type httpFacts struct {
	client bool
	// method is the proxy's method tag; semMethod the semconv value written.
	method, semMethod string
	status            int64
	noResponse        bool // Envoy's status "0": the upstream never answered
	flags             string
	grpcCode          int
	grpcName          string
	hasGRPC           bool
	errorTag          bool
	// Keys the span already had (read in the attribute pass).
	hasErrorType, hasServerAddress, hasOriginalName bool
}

func (h *httpFacts) putMethod(attrs pcommon.Map) {
	switch h.method {
	case "":
		return
	case semconv.OtherMethod: // already normalized by an earlier mesh processor
		h.semMethod = semconv.OtherMethod
		return
	}
	m, known := semconv.Method(h.method)
	attrs.PutStr(semconv.HTTPRequestMethod, m)
	if !known {
		attrs.PutStr(semconv.HTTPRequestMethodOriginal, h.method)
	}
	h.semMethod = m
}

func (h *httpFacts) putStatusCode(b *batch, attrs pcommon.Map, s string) {
	if s == "" {
		return
	}
	if code, ok := semconv.StatusCode(s); ok {
		attrs.PutInt(semconv.HTTPResponseStatusCode, code)
		h.status = code
		return
	}
	// A status that is no number must not stay under the semconv key, where
	// it would be taken for one.
	attrs.Remove(semconv.HTTPResponseStatusCode)
	if s == "0" {
		h.noResponse = true
		return
	}
	b.malformed(tagHTTPStatusCode)
}

// putURL writes url.* and server.* from a full URL or an origin-form target,
// and redacts credentials (userinfo, secret query parameters) in the URL tag
// it came from.
func (h *httpFacts) putURL(b *batch, attrs pcommon.Map, key, raw string) {
	redacted, changed := redactURL(raw) // also when the URL does not parse
	u, ok := semconv.ParseURL(redacted)
	if ok && u.Redacted != redacted {
		redacted, changed = u.Redacted, true
	}
	if changed {
		attrs.PutStr(key, redacted)
	}
	if len(raw) > maxURLLen { // credentials gone; too long to copy into url.* keys
		b.malformed("url")
		return
	}
	if !ok {
		b.malformed("url")
		return
	}
	if u.Scheme != "" {
		attrs.PutStr(semconv.URLFull, u.Redacted)
		attrs.PutStr(semconv.URLScheme, u.Scheme)
		// A server.address the proxy wrote (Linkerd: from X-Forwarded-Host or
		// :authority) wins over the URL's host.
		if !h.hasServerAddress {
			attrs.PutStr(semconv.ServerAddress, u.Host)
			if port, ok := semconv.Port(u.Port); ok {
				attrs.PutInt(semconv.ServerPort, port)
			}
		}
	}
	attrs.PutStr(semconv.URLPath, u.Path)
	if u.Query != "" {
		attrs.PutStr(semconv.URLQuery, u.Query)
	}
}

// setStatus applies the HTTP semconv status rules when the proxy left the
// status unset: 5xx, 4xx on CLIENT spans, gRPC errors, Envoy failure flags and
// the error tag make the span an Error with error.type. An explicit status is
// kept; error.type is still added to an Error span.
func (h *httpFacts) setStatus(span ptrace.Span, attrs pcommon.Map) {
	st := span.Status()
	if st.Code() == ptrace.StatusCodeOk {
		return
	}
	var errType string
	isErr := false
	if flag, ok := responseflags.Failure(h.flags); ok {
		isErr, errType = true, flag
	}
	if h.status >= 500 || (h.client && h.status >= 400) {
		isErr = true
		if errType == "" {
			errType = strconv.FormatInt(h.status, 10)
		}
	}
	if h.hasGRPC && h.grpcCode != 0 && (h.client || semconv.GRPCServerError(h.grpcCode)) {
		isErr = true
		if errType == "" {
			errType = h.grpcName
		}
	}
	if h.noResponse || h.errorTag {
		isErr = true
	}
	if !isErr && st.Code() != ptrace.StatusCodeError {
		return
	}
	if errType == "" {
		errType = "_OTHER"
	}
	if st.Code() == ptrace.StatusCodeUnset {
		st.SetCode(ptrace.StatusCodeError)
	}
	if !h.hasErrorType {
		attrs.PutStr(semconv.ErrorType, errType)
	}
}

// rename names the span "{method} {route}" when the original name is an
// Istio route decorator with a specific path, else "{method}", keeping the
// original name in mesh.span.original_name. The route is also written as
// http.route on server spans. With keepName (naming: kiali, Envoy spans) only
// http.route is written. Spans without an HTTP method (TCP proxying) keep
// their name.
func (h *httpFacts) rename(span ptrace.Span, attrs pcommon.Map, original string, server, keepName bool) {
	if h.semMethod == "" {
		return
	}
	name := h.semMethod
	if name == semconv.OtherMethod {
		name = "HTTP" // semconv: the span name of an unknown method
	}
	if route, ok := semconv.RouteFromOperation(original); ok {
		name += " " + route
		if server {
			attrs.PutStr(semconv.HTTPRoute, route)
		}
	}
	if keepName || name == span.Name() {
		return
	}
	if !h.hasOriginalName {
		attrs.PutStr(attrMeshOriginalName, span.Name())
	}
	span.SetName(name)
}

// putPeer maps Envoy's peer.address / upstream_address ("ip" or "ip:port").
// setClient also records it as client.address (SERVER spans).
func putPeer(attrs pcommon.Map, addr string, setClient bool) {
	if addr == "" || addr == "-" {
		return
	}
	host, port := semconv.HostPort(addr)
	if host == "" {
		return
	}
	if setClient {
		attrs.PutStr(semconv.ClientAddress, host)
	}
	attrs.PutStr(semconv.NetworkPeerAddress, host)
	if p, ok := semconv.Port(port); ok {
		attrs.PutInt(semconv.NetworkPeerPort, p)
	}
}

// putClientPeer maps a CLIENT span's peer: upstream_address (the upstream
// host Envoy connected to) wins over peer.address, whose port is kept when
// upstream_address has none. Each key is written once.
func putClientPeer(attrs pcommon.Map, peer, upstream string) {
	var host, port string
	if upstream != "" && upstream != "-" {
		host, port = semconv.HostPort(upstream)
	}
	if host == "" {
		putPeer(attrs, peer, false)
		return
	}
	p, ok := semconv.Port(port)
	if !ok && peer != "" && peer != "-" {
		if peerHost, peerPort := semconv.HostPort(peer); peerHost != "" {
			p, ok = semconv.Port(peerPort)
		}
	}
	attrs.PutStr(semconv.NetworkPeerAddress, host)
	if ok {
		attrs.PutInt(semconv.NetworkPeerPort, p)
	}
}

func putSize(b *batch, attrs pcommon.Map, key, tag, s string) {
	if s == "" {
		return
	}
	if n, ok := parseCount(s); ok {
		attrs.PutInt(key, n)
		return
	}
	b.malformed(tag)
}

// parseCount parses a non-negative decimal count as strconv.ParseInt does.
// Plain digit strings of up to 18 digits (which cannot overflow) are parsed
// directly: ParseInt allocates its error for the usual "" and "-".
func parseCount(s string) (int64, bool) {
	if s == "" || s == "-" {
		return 0, false
	}
	if len(s) <= 18 {
		var n int64
		digits := true
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				digits = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if digits {
			return n, true
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}
