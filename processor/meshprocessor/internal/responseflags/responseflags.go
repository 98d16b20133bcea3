// Package responseflags interprets Envoy's short response flags (the
// response_flags span tag, e.g. "UF,URX").
package responseflags // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/responseflags"

import "strings"

// failures lists the flags that mean the proxy, not the application, failed the
// request. Flags not listed here (DI: delay injected) are informational.
var failures = map[string]bool{
	"UH":    true, // no healthy upstream hosts
	"UF":    true, // upstream connection failure
	"UO":    true, // upstream overflow (circuit breaker)
	"NR":    true, // no route configured
	"URX":   true, // upstream retry limit or max connect attempts exceeded
	"UT":    true, // upstream request timeout
	"LR":    true, // connection local reset
	"UR":    true, // upstream remote reset
	"UC":    true, // upstream connection termination
	"DC":    true, // downstream connection termination
	"LH":    true, // local service failed health check
	"FI":    true, // fault injected (abort)
	"RL":    true, // rate limited locally or by the rate limit service
	"UAEX":  true, // unauthorized by the external authorization service
	"RLSE":  true, // rate limit service error
	"IH":    true, // invalid header value (strict check)
	"SI":    true, // stream idle timeout
	"DPE":   true, // downstream protocol error
	"UPE":   true, // upstream protocol error
	"UMSDR": true, // upstream max stream duration reached
	"OM":    true, // overload manager
	"DF":    true, // DNS resolution failed
	"DO":    true, // dropped: no upstream and no route, or overload
	"NC":    true, // no cluster found
	"DT":    true, // request or connection exceeded max duration
}

// Failure returns the first failure flag in flags ("" and "-" have none).
func Failure(flags string) (flag string, ok bool) {
	if flags == "" || flags == "-" {
		return "", false
	}
	for f := range strings.SplitSeq(flags, ",") {
		if f = strings.TrimSpace(f); failures[f] {
			return f, true
		}
	}
	return "", false
}
