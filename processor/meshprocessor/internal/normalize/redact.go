package normalize // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/normalize"

import (
	"net/url"
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
// The URL keys of urlKeys are looked at too, for their credentials.
func newHeaderKeys(redacted []string, canary map[string][]string) headerKeys {
	h := headerKeys{redacted: map[string]bool{}, canary: map[string]map[string]bool{}}
	for _, name := range redacted {
		for _, k := range []string{name, "http.request.header." + name, "http.response.header." + name} {
			h.redacted[k] = true
			h.addLength(k)
		}
	}
	for k := range urlKeys {
		h.addLength(k)
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

// inspect redacts a credential header value and the credentials in a URL
// attribute (when redact is set) and reports whether the attribute is a
// canary header tag that matches.
func (h *headerKeys) inspect(k string, v pcommon.Value, redact bool) (canary bool) {
	if !h.maybe(k) {
		return false
	}
	if values, ok := h.canary[k]; ok && matches(v, values) {
		canary = true
	}
	if !redact {
		return canary
	}
	if h.redacted[k] || (hasUpper(k) && h.redacted[strings.ToLower(k)]) {
		if v.Type() == pcommon.ValueTypeSlice {
			for _, e := range v.Slice().All() {
				e.SetStr(redactedValue)
			}
		} else {
			v.SetStr(redactedValue)
		}
	} else if params, ok := urlKeys[k]; ok && v.Type() == pcommon.ValueTypeStr {
		var s string
		var changed bool
		if params {
			s, changed = redactParams(v.Str())
		} else {
			s, changed = redactURL(v.Str())
		}
		if changed {
			v.SetStr(s)
		}
	}
	return canary
}

// applicationSpan redacts credentials on an application span when redact is
// set (redact_application_spans), and reports whether the span carries a
// matching canary header tag.
func (h *headerKeys) applicationSpan(attrs pcommon.Map, redact bool) bool {
	if !redact {
		return h.canaryHeader(attrs)
	}
	canary := false
	for k, v := range attrs.All() {
		if h.inspect(k, v, true) {
			canary = true
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

// urlKeys are the span attributes that hold a URL (false) or only its query
// or fragment (true), whose credentials are redacted outside the proxy tags
// the normalizer parses: on application spans (the HTTP semantic conventions,
// old and current, and Zipkin's http.path) and the URL keys a proxy span has
// besides its parsed URL tag.
var urlKeys = map[string]bool{
	"url.full":     false,
	"http.url":     false,
	"http.target":  false,
	"http.path":    false,
	"url.query":    true,
	"url.fragment": true,
}

// redactedUserinfo replaces the user:password of a URL, as the URL semantic
// conventions require for url.full.
const redactedUserinfo = "REDACTED:REDACTED"

// secretParams are the query (and fragment) parameters whose values are
// credentials: the signed-URL parameters the URL semantic conventions list
// (AWSAccessKeyId, Signature, sig, X-Goog-Signature), their AWS SigV4 and
// Google V4 counterparts, and OAuth and API key parameters. Matched
// case-insensitively, after percent-decoding the name.
var secretParams = map[string]bool{
	"awsaccesskeyid":       true,
	"signature":            true,
	"sig":                  true,
	"x-amz-signature":      true,
	"x-amz-credential":     true,
	"x-amz-security-token": true,
	"x-goog-signature":     true,
	"x-goog-credential":    true,
	"token":                true,
	"access_token":         true,
	"refresh_token":        true,
	"id_token":             true,
	"client_secret":        true,
	"api_key":              true,
	"apikey":               true,
	"api-key":              true,
	"password":             true,
	"passwd":               true,
	"secret":               true,
}

// maxParamName bounds the parameter names looked up in secretParams.
const maxParamName = 32

// secretParamLengths has bit n set when a name in secretParams has length n:
// most parameter names are rejected without a lookup.
var secretParamLengths = func() (m uint64) {
	for k := range secretParams {
		m |= 1 << len(k)
	}
	return m
}()

// redactURL replaces the userinfo of a URL with REDACTED:REDACTED and the
// values of secret query and fragment parameters with REDACTED, whether or
// not the URL parses: an absolute URL (http://user:pw@host/p?token=x), a
// scheme-relative one (//user:pw@host), an authority without a scheme
// (user:pw@host/p) or an origin-form target (/p?sig=x). It reports whether
// anything changed. Already redacted values stay as they are.
func redactURL(s string) (string, bool) {
	out, changed := redactUserinfo(s)
	if i := strings.IndexAny(out, "?#"); i >= 0 {
		if r, ok := redactQueryAndFragment(out[:i], out[i:]); ok {
			out, changed = r, true
		}
	}
	return out, changed
}

// redactUserinfo replaces what precedes the last '@' of a URL's authority.
func redactUserinfo(s string) (string, bool) {
	if strings.IndexByte(s, '@') < 0 {
		return s, false // no userinfo (the common case), whatever the form
	}
	start, schemeless := 0, false
	if i := strings.Index(s, "://"); i > 0 && !strings.ContainsAny(s[:i], "/?#@") {
		start = i + 3
	} else if strings.HasPrefix(s, "//") {
		start = 2
	} else if strings.HasPrefix(s, "/") {
		return s, false // origin form: no authority
	} else {
		schemeless = true // user:pw@host/p, or a scheme the check above refused
	}
	end := start + indexAnyOrLen(s[start:], "/?#")
	at := strings.LastIndexByte(s[start:end], '@')
	if at < 0 && !schemeless {
		// A password holding '/', '?' or '#' ends the authority early
		// ("user:pa/ss@host"): then the authority is no host[:port], and the
		// userinfo runs to the last '@' of the URL.
		if !badPort(s[start:end]) {
			return s, false
		}
		at = strings.LastIndexByte(s[start:], '@')
	}
	if at < 0 {
		return s, false
	}
	userinfo := s[start : start+at]
	if userinfo == redactedUserinfo || userinfo == redactedValue { // Linkerd writes REDACTED@
		return s, false
	}
	if schemeless && !strings.Contains(userinfo, ":") {
		return s, false // user@host, no password: not told apart from other text
	}
	return s[:start] + redactedUserinfo + s[start+at:], true
}

// badPort reports whether an authority without '@' ends in ":<not a port>".
func badPort(authority string) bool {
	if strings.HasPrefix(authority, "[") {
		authority = authority[max(strings.IndexByte(authority, ']'), 0):]
	}
	c := strings.LastIndexByte(authority, ':')
	if c < 0 {
		return false
	}
	for i := c + 1; i < len(authority); i++ {
		if authority[i] < '0' || authority[i] > '9' {
			return true
		}
	}
	return false
}

// redactQueryAndFragment redacts secret parameters in rest, which starts
// with '?' (a query, then maybe a fragment) or '#' (a fragment: OAuth's
// implicit flow puts access_token there).
func redactQueryAndFragment(head, rest string) (string, bool) {
	query, fragment, hasFragment := rest, "", false
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		query, fragment, hasFragment = rest[:i], rest[i+1:], true
	}
	changed := false
	if strings.HasPrefix(query, "?") {
		if q, ok := redactParams(query[1:]); ok {
			query, changed = "?"+q, true
		}
	}
	if hasFragment {
		if f, ok := redactParams(fragment); ok {
			fragment, changed = f, true
		}
	}
	if !changed {
		return "", false
	}
	if hasFragment {
		return head + query + "#" + fragment, true
	}
	return head + query, true
}

// redactParams replaces the values of secret parameters in an
// application/x-www-form-urlencoded string (a=1&token=x) with REDACTED.
func redactParams(q string) (string, bool) {
	if strings.IndexByte(q, '=') < 0 {
		return q, false
	}
	var b strings.Builder
	last := 0 // q[:last] is written to b once something changed
	for i := 0; i < len(q); {
		end := i + indexAnyOrLen(q[i:], "&")
		param := q[i:end]
		if eq := strings.IndexByte(param, '='); eq > 0 && eq+1 < len(param) && param[eq+1:] != redactedValue && secretParam(param[:eq]) {
			if b.Len() == 0 {
				b.Grow(len(q))
			}
			b.WriteString(q[last : i+eq+1])
			b.WriteString(redactedValue)
			last = end
		}
		i = end + 1
	}
	if last == 0 {
		return q, false
	}
	b.WriteString(q[last:])
	return b.String(), true
}

// secretParam reports whether a (maybe percent-encoded) parameter name is
// one of secretParams, ignoring case.
func secretParam(name string) bool {
	if strings.ContainsAny(name, "%+") {
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
	}
	if len(name) > maxParamName || secretParamLengths&(1<<len(name)) == 0 {
		return false
	}
	var buf [maxParamName]byte
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return secretParams[string(buf[:len(name)])]
}

func indexAnyOrLen(s, chars string) int {
	if i := strings.IndexAny(s, chars); i >= 0 {
		return i
	}
	return len(s)
}
