package meshprocessor // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor"

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

const redactedValue = "REDACTED"

// newRedactedHeaders returns the attribute keys under which a captured header
// may appear: the Envoy custom tag named after the header, and the semconv
// http.request.header.<name> / http.response.header.<name>.
func newRedactedHeaders(headers []string) map[string]bool {
	keys := make(map[string]bool, 3*len(headers))
	for _, h := range headers {
		keys[h] = true
		keys["http.request.header."+h] = true
		keys["http.response.header."+h] = true
	}
	return keys
}

// redactHeaders replaces the values of captured credential headers.
func (p *meshProcessor) redactHeaders(attrs pcommon.Map) {
	if len(p.redacted) == 0 {
		return
	}
	for k, v := range attrs.All() {
		if !p.redacted[k] && (!hasUpper(k) || !p.redacted[strings.ToLower(k)]) {
			continue
		}
		if v.Type() == pcommon.ValueTypeSlice {
			for _, e := range v.Slice().All() {
				e.SetStr(redactedValue)
			}
			continue
		}
		v.SetStr(redactedValue)
	}
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
