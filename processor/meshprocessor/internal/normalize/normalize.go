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
	return n.run(td, userAgent, passFull)
}

// DecisionAttributes is the first half of deferred normalizing, for the
// tail sampler, at a fraction of the cost of Traces: resources, Linkerd and
// application spans are normalized in full, and Envoy spans get only what
// the sampler decides on (the semconv HTTP status code, mesh.response_flags,
// mesh.direction, mesh.destination.service and .namespace, mesh.canary when
// true, the Error status and error.type). Finish writes the rest on the
// spans that are kept; the two give what Traces gives.
func (n *Normalizer) DecisionAttributes(td ptrace.Traces, userAgent string) Counts {
	return n.run(td, userAgent, passDecision)
}

// Finish is the second half of deferred normalizing: it writes the rest on
// the Envoy spans of td that DecisionAttributes prepared, however their
// resources were split since (by trace), and keeps what DecisionAttributes
// found with the whole request (destination, canary, resource). It counts
// only the malformed inputs DecisionAttributes does not look at: URLs and
// body sizes.
func (n *Normalizer) Finish(td ptrace.Traces) Counts {
	return n.run(td, "", passFinish)
}

// pass is what one run writes.
type pass int

const (
	passFull     pass = iota // Traces
	passDecision             // DecisionAttributes
	passFinish               // Finish
)

func (n *Normalizer) run(td ptrace.Traces, userAgent string, p pass) Counts {
	b := batch{n: n, userAgent: userAgent, pass: p, counts: Counts{Spans: map[ProxyMesh]int64{}}}
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
	pass      pass
	evidence  evidence
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
				if b.pass == passFinish {
					continue // normalized in full before the decision
				}
				b.evidence.proxy = proxyLinkerd
				b.normalizeLinkerd(span, res)
				counts[1]++
			case resourceProxy == proxyEnvoy || isEnvoySpan(attrs):
				b.evidence.proxy = proxyEnvoy
				b.normalizeEnvoy(span, res)
				counts[0]++
			case b.pass == passFinish:
				continue // an application span: done before the decision
			default:
				b.markCanary(attrs, res, canaryInput{version: b.evidence.version, header: b.n.headers.applicationSpan(attrs, b.n.set.RedactApplicationSpans)})
				counts[2]++
			}
		}
	}
	if b.pass == passFinish {
		return // the resource was written, and its spans counted, with the whole request
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

// finishInputs are the inputs only Finish parses (DecisionAttributes counted
// the others).
var finishInputs = map[string]bool{"url": true, tagRequestSize: true, tagResponseSize: true}

func (b *batch) malformed(input string) {
	if b.pass == passFinish && !finishInputs[input] {
		return
	}
	if b.counts.Malformed == nil {
		b.counts.Malformed = map[string]int64{}
	}
	b.counts.Malformed[input]++
}
