// Package normalize maps the spans of Envoy, Istio and Linkerd proxies to
// OpenTelemetry semantic conventions, detects the proxy and mesh version of
// each resource, marks canary traffic and redacts credentials.
//
// Where to look:
//   - envoy.go: Envoy and Istio span tags (Zipkin, OpenTelemetry and
//     OpenCensus exports) and Istio cluster names;
//   - linkerd.go: linkerd2-proxy tags, with the table of what each Linkerd
//     release line writes;
//   - http.go: what both proxy families share (HTTP method, status, URL, peers,
//     span status and name);
//   - resource.go: proxy and mesh version detection, workload identity;
//   - canary.go, redact.go: canary rules and credential redaction;
//   - keys.go: the mesh.* keys written.
package normalize // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/normalize"

import (
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/istiorelease"
)

// Settings is what normalizing needs from the processor's configuration.
type Settings struct {
	// Releases maps istio/proxy SHAs to Istio releases.
	Releases *istiorelease.Table
	// SemconvNames renames Istio service and Envoy span names (naming: semconv).
	SemconvNames bool
	// RemoveOriginalAttributes deletes the proxy tags once mapped.
	RemoveOriginalAttributes bool
	// RedactedHeaders are captured header names whose values are redacted.
	RedactedHeaders []string
	// RedactApplicationSpans applies redaction to application spans too.
	RedactApplicationSpans bool
	// Canary holds the rules that mark canary traffic.
	Canary CanaryConfig
}

// Normalizer normalizes requests; it is safe for concurrent use.
type Normalizer struct {
	set     Settings
	canary  canaryRules
	headers headerKeys
}

// New compiles the settings.
func New(set Settings) *Normalizer {
	return &Normalizer{
		set:     set,
		canary:  newCanaryRules(set.Canary),
		headers: newHeaderKeys(set.RedactedHeaders, set.Canary.Headers),
	}
}

// Counts is what normalizing one request found, for the processor's telemetry.
type Counts struct {
	// Spans by proxy and mesh (ProxyMesh{"none", "none"} for application spans).
	Spans map[ProxyMesh]int64
	// Malformed counts unparseable inputs by input name.
	Malformed map[string]int64
	// Canary counts canary spans by the rule that matched.
	Canary map[string]int64
}

// ProxyMesh is a (mesh.proxy, mesh.name) pair.
type ProxyMesh struct{ Proxy, Mesh string }

// Traces normalizes td in place. userAgent is the export request's
// User-Agent when Envoy sent it (see IsEnvoyUserAgent), else "".
func (n *Normalizer) Traces(td ptrace.Traces, userAgent string) Counts {
	return n.run(td, userAgent, false)
}

// DecisionAttributes prepares td for the tail sampler at a fraction of the
// cost of Traces: resources, Linkerd and application spans are normalized,
// and Envoy spans get only what the sampler decides on (the semconv HTTP
// status code, mesh.response_flags, mesh.direction, mesh.destination.*,
// mesh.canary, the Error status and error.type). Traces on the spans that
// are kept writes the rest, and gives what Traces on td gives (with the
// proxy's own tags kept, remove_original_attributes off).
func (n *Normalizer) DecisionAttributes(td ptrace.Traces, userAgent string) Counts {
	return n.run(td, userAgent, true)
}

func (n *Normalizer) run(td ptrace.Traces, userAgent string, decisionOnly bool) Counts {
	b := batch{n: n, userAgent: userAgent, decisionOnly: decisionOnly, counts: Counts{Spans: map[ProxyMesh]int64{}}}
	for _, rs := range td.ResourceSpans().All() {
		b.processResource(rs)
	}
	return b.counts
}

// IsEnvoyUserAgent reports whether ua is the User-Agent of Envoy's OTLP exporter.
func IsEnvoyUserAgent(ua string) bool {
	_, _, ok := parseEnvoyUserAgent(ua)
	return ok
}

// batch is the state of one request: the evidence gathered about the
// resource being processed and the counts.
type batch struct {
	n         *Normalizer
	userAgent string
	// decisionOnly: write on Envoy spans only what the sampler decides on.
	decisionOnly bool
	evidence     evidence
	// The last istio/proxy SHA looked up and its releases.
	lastSHA      string
	lastReleases []string
	counts       Counts
}

// processResource classifies each span (Envoy, Linkerd or application),
// normalizes it, and then writes what its spans revealed about the proxy
// onto the resource.
func (b *batch) processResource(rs ptrace.ResourceSpans) {
	res := rs.Resource().Attributes()
	b.evidence = newEvidence(res)
	resourceProxy := b.evidence.proxy
	var counts [3]int64 // Envoy, Linkerd, application spans
	for _, ss := range rs.ScopeSpans().All() {
		b.evidence.noteScope(ss.Scope())
		for _, span := range ss.Spans().All() {
			attrs := span.Attributes()
			switch {
			case resourceProxy == proxyLinkerd || (resourceProxy == "" && isLinkerdSpan(attrs)):
				b.evidence.proxy = proxyLinkerd
				b.normalizeLinkerd(span, res)
				counts[1]++
			case resourceProxy == proxyEnvoy || isEnvoySpan(attrs):
				b.evidence.proxy = proxyEnvoy
				b.normalizeEnvoy(span, res)
				counts[0]++
			default:
				b.markCanary(attrs, res, canaryInput{version: b.evidence.version, header: b.n.headers.applicationSpan(attrs, b.n.set.RedactApplicationSpans)})
				counts[2]++
			}
		}
	}
	mesh := b.writeResource(res)
	for i, proxy := range [3]string{proxyEnvoy, proxyLinkerd, none} {
		if counts[i] == 0 {
			continue
		}
		m := mesh
		if proxy == none {
			m = none
		}
		b.counts.Spans[ProxyMesh{proxy, m}] += counts[i]
	}
}

// str returns a tag's value as a string. Envoy and Linkerd write every tag
// as a string; ints (Zipkin's parse_string_tags, an earlier mesh processor)
// are accepted, anything else is counted as malformed and ignored.
func (b *batch) str(key string, v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeInt:
		return strconv.FormatInt(v.Int(), 10)
	}
	b.malformed(key)
	return ""
}

func (b *batch) malformed(input string) {
	if b.counts.Malformed == nil {
		b.counts.Malformed = map[string]int64{}
	}
	b.counts.Malformed[input]++
}
