package meshprocessor // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor"

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

const redactedValue = "REDACTED"

// headerKeys holds the attribute keys that need a look in the attribute pass:
// captured credential headers (redacted) and canary header tags (matched).
// A bitmap of key lengths rejects almost every other key without hashing it.
type headerKeys struct {
	lengths  [2]uint64 // bit n: some key has length n (n < 128)
	redacted map[string]bool
	canary   map[string]map[string]bool // key -> canary values (nil: any)
}

// newHeaderKeys: a captured header may appear as the Envoy custom tag named
// after it, or as http.request.header.<name> / http.response.header.<name>.
func newHeaderKeys(redacted []string, canary map[string][]string) headerKeys {
	h := headerKeys{redacted: map[string]bool{}, canary: map[string]map[string]bool{}}
	for _, name := range redacted {
		for _, k := range []string{name, "http.request.header." + name, "http.response.header." + name} {
			h.redacted[k] = true
			h.addLength(k)
		}
	}
	for name, values := range canary {
		for _, k := range []string{name, "http.request.header." + name} {
			h.canary[k] = toSet(values)
			h.addLength(k)
		}
	}
	return h
}

func (h *headerKeys) addLength(k string) {
	if n := len(k); n < 128 {
		h.lengths[n/64] |= 1 << (n % 64)
	} else {
		h.lengths[1] |= 1 << 63 // long keys: always look
	}
}

func (h *headerKeys) maybe(k string) bool {
	n := min(len(k), 127)
	return h.lengths[n/64]&(1<<(n%64)) != 0
}

// inspect redacts a credential header value (when redact is set: proxy spans
// only) and reports whether the attribute is a canary header tag that matches.
func (h *headerKeys) inspect(k string, v pcommon.Value, redact bool) (canary bool) {
	if !h.maybe(k) {
		return false
	}
	if values, ok := h.canary[k]; ok && matches(v, values) {
		canary = true
	}
	if redact && (h.redacted[k] || (hasUpper(k) && h.redacted[strings.ToLower(k)])) {
		if v.Type() == pcommon.ValueTypeSlice {
			for _, e := range v.Slice().All() {
				e.SetStr(redactedValue)
			}
		} else {
			v.SetStr(redactedValue)
		}
	}
	return canary
}

// canaryHeader scans an application span for a matching canary header tag.
func (h *headerKeys) canaryHeader(attrs pcommon.Map) bool {
	if len(h.canary) == 0 {
		return false
	}
	for k, v := range attrs.All() {
		if h.inspect(k, v, false) {
			return true
		}
	}
	return false
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
