// Package semconv holds the pure conversions from proxy tag values to
// OpenTelemetry HTTP semantic-convention values: methods, status codes, URLs,
// protocol versions, addresses and route names.
package semconv // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/semconv"

import (
	"strconv"
	"strings"

	"github.com/otelcol-mesh/otelcol-mesh/internal/grpccode"
)

// Attribute keys of the stable HTTP, URL, network and error conventions.
const (
	HTTPRequestMethod         = "http.request.method"
	HTTPRequestMethodOriginal = "http.request.method_original"
	HTTPResponseStatusCode    = "http.response.status_code"
	HTTPRoute                 = "http.route"
	HTTPRequestResendCount    = "http.request.resend_count"
	HTTPRequestBodySize       = "http.request.body.size"
	HTTPResponseBodySize      = "http.response.body.size"
	URLFull                   = "url.full"
	URLPath                   = "url.path"
	URLQuery                  = "url.query"
	URLScheme                 = "url.scheme"
	ServerAddress             = "server.address"
	ServerPort                = "server.port"
	ClientAddress             = "client.address"
	NetworkPeerAddress        = "network.peer.address"
	NetworkPeerPort           = "network.peer.port"
	NetworkLocalAddress       = "network.local.address"
	NetworkProtocolName       = "network.protocol.name"
	NetworkProtocolVersion    = "network.protocol.version"
	NetworkTransport          = "network.transport"
	UserAgentOriginal         = "user_agent.original"
	ErrorType                 = "error.type"
	RPCResponseStatusCode     = "rpc.response.status_code"
)

// OtherMethod is what semconv records for methods outside the known set.
const OtherMethod = "_OTHER"

// Method returns the semconv method for m: m itself when it is a known HTTP
// method, otherwise "_OTHER" and known=false (the caller records m as
// http.request.method_original).
func Method(m string) (method string, known bool) {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY":
		return m, true
	}
	return OtherMethod, false
}

// StatusCode parses an HTTP status code tag ("200"). Envoy writes "0" when
// there was no response: ok is false then, as for anything outside 100–599.
func StatusCode(s string) (code int64, ok bool) {
	if len(s) != 3 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return 0, false
	}
	return int64(n), true
}

// Port parses a TCP port; ok is false for anything outside 1–65535.
func Port(s string) (int64, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > 65535 {
		return 0, false
	}
	return int64(n), true
}

// Protocol splits Envoy's http.protocol ("HTTP/1.1", "HTTP/2") into the
// semconv protocol name and version.
func Protocol(p string) (name, version string, ok bool) {
	n, v, found := strings.Cut(p, "/")
	if !found || v == "" || !strings.EqualFold(n, "HTTP") {
		return "", "", false
	}
	switch v {
	case "1.0", "1.1", "2", "3":
		return "http", v, true
	case "2.0":
		return "http", "2", true
	case "3.0":
		return "http", "3", true
	}
	return "", "", false
}

// HostPort splits "host:port", "[v6]:port", a bare IPv6 address, or a bare
// host. port is "" when there is none.
func HostPort(s string) (host, port string) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return s, ""
		}
		host = s[1:end]
		if rest := s[end+1:]; strings.HasPrefix(rest, ":") {
			port = rest[1:]
		}
		return host, port
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 || strings.IndexByte(s[:i], ':') >= 0 { // no port, or a bare IPv6 address
		return s, ""
	}
	return s[:i], s[i+1:]
}

// URL is a parsed absolute or origin-form URL.
type URL struct {
	Scheme, Host, Port, Path, Query string
	// Redacted is the URL with credentials in the userinfo replaced, as
	// semconv requires for url.full; equal to the input when there were none.
	Redacted string
}

// redactedUserinfo replaces user:password in url.full, per the URL conventions.
const redactedUserinfo = "REDACTED:REDACTED"

// ParseURL splits an absolute URL (http://host:port/path?query#frag) or an
// origin-form target (/path?query). It does no unescaping.
func ParseURL(s string) (URL, bool) {
	u := URL{Redacted: s}
	rest := s
	if i := strings.Index(rest, "://"); i > 0 && !strings.ContainsAny(rest[:i], "/?#") {
		u.Scheme = rest[:i]
		rest = rest[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		authority := rest[:end]
		rest = rest[end:]
		if at := strings.LastIndexByte(authority, '@'); at >= 0 {
			userinfo := authority[:at]
			authority = authority[at+1:]
			if userinfo != redactedUserinfo && userinfo != "REDACTED" { // Linkerd's own redaction
				u.Redacted = u.Scheme + "://" + redactedUserinfo + "@" + authority + rest
			}
		}
		u.Host, u.Port = HostPort(authority)
		if u.Host == "" {
			return URL{}, false
		}
	} else if !strings.HasPrefix(rest, "/") {
		return URL{}, false
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	u.Path, u.Query, _ = strings.Cut(rest, "?")
	return u, true
}

// RouteFromOperation extracts the route from an Istio/Envoy route decorator
// operation name, "<host>:<port><path>" (reviews.bookinfo.svc.cluster.local:9080/*).
// "/*" is Istio's catch-all and means no route is known.
func RouteFromOperation(name string) (route string, ok bool) {
	slash := strings.IndexByte(name, '/')
	if slash <= 0 {
		return "", false
	}
	hostPort := name[:slash]
	colon := strings.LastIndexByte(hostPort, ':')
	if colon <= 0 || strings.ContainsAny(hostPort, " |") {
		return "", false
	}
	if _, ok := Port(hostPort[colon+1:]); !ok {
		return "", false
	}
	route = name[slash:]
	if route == "/*" {
		return "", false
	}
	return route, true
}

// GRPCCode parses a numeric gRPC status code ("14") into its name (UNAVAILABLE).
func GRPCCode(s string) (code int, name string, ok bool) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, "", false
	}
	if name, ok = grpccode.Name(n); !ok {
		return 0, "", false
	}
	return n, name, true
}

// GRPCServerError reports whether a gRPC code is an error on a SERVER span; on
// CLIENT spans every code but OK is.
func GRPCServerError(code int) bool {
	switch code {
	case 2, 4, 12, 13, 14, 15: // UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS
		return true
	}
	return false
}
