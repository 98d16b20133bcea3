package meshprocessor // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor"

import (
	"context"
	"strconv"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/istiorelease"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadata"
)

type meshProcessor struct {
	cfg       *Config
	releases  *istiorelease.Table
	canary    canaryRules
	headers   headerKeys
	telemetry *metadata.TelemetryBuilder
	// semconvNames: naming: semconv renames Istio service and Envoy span names.
	semconvNames bool
}

func newMeshProcessor(set processor.Settings, cfg *Config) (*meshProcessor, error) {
	releases, err := istiorelease.New(cfg.IstioProxySHAs)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &meshProcessor{
		cfg:          cfg,
		releases:     releases,
		canary:       newCanaryRules(cfg.Canary),
		headers:      newHeaderKeys(cfg.RedactedHeaders, cfg.Canary.Headers),
		telemetry:    tb,
		semconvNames: cfg.Naming == namingSemconv,
	}, nil
}

func (p *meshProcessor) shutdown(context.Context) error {
	p.telemetry.Shutdown()
	return nil
}

// batch is the state of one ConsumeTraces call: the evidence gathered about
// the resource being processed, and counters flushed to telemetry at the end.
type batch struct {
	p         *meshProcessor
	userAgent string
	evidence  evidence
	// The last istio/proxy SHA looked up and its releases.
	lastSHA      string
	lastReleases []string
	// Counters by input, canary rule and (proxy, mesh), flushed at the end.
	malformedCounts map[string]int64
	canaryCounts    map[string]int64
	spans           map[[2]string]int64
}

func (p *meshProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	b := batch{p: p, userAgent: envoyUserAgent(ctx), spans: map[[2]string]int64{}}
	for _, rs := range td.ResourceSpans().All() {
		b.processResource(rs)
	}
	b.flush(ctx)
	return td, nil
}

// envoyUserAgent returns the User-Agent of the export request when the
// receiver runs with include_metadata and Envoy sent it.
func envoyUserAgent(ctx context.Context) string {
	for _, ua := range client.FromContext(ctx).Metadata.Get("user-agent") {
		if _, _, ok := parseEnvoyUserAgent(ua); ok {
			return ua
		}
	}
	return ""
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
				b.markCanary(attrs, res, canaryInput{version: b.evidence.version, header: b.p.headers.applicationSpan(attrs, b.p.cfg.RedactApplicationSpans)})
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
		b.spans[[2]string{proxy, m}] += counts[i]
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
	if b.malformedCounts == nil {
		b.malformedCounts = map[string]int64{}
	}
	b.malformedCounts[input]++
}

func (b *batch) flush(ctx context.Context) {
	t := b.p.telemetry
	for k, n := range b.spans {
		t.ProcessorMeshSpans.Add(ctx, n, metric.WithAttributeSet(attribute.NewSet(
			attribute.String(attrMeshProxy, k[0]), attribute.String(attrMeshName, k[1]))))
	}
	for input, n := range b.malformedCounts {
		t.ProcessorMeshMalformedInputs.Add(ctx, n, metric.WithAttributeSet(attribute.NewSet(attribute.String("input", input))))
	}
	for rule, n := range b.canaryCounts {
		t.ProcessorMeshCanarySpans.Add(ctx, n, metric.WithAttributeSet(attribute.NewSet(attribute.String("rule", rule))))
	}
}
