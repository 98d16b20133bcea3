package meshprocessor // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/istiorelease"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadata"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/normalize"
)

// meshProcessor normalizes spans (internal/normalize) and reports what it
// found in the processor's telemetry.
type meshProcessor struct {
	normalizer *normalize.Normalizer
	telemetry  *metadata.TelemetryBuilder
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
		normalizer: normalize.New(normalize.Settings{
			Releases:                 releases,
			SemconvNames:             cfg.Naming == namingSemconv,
			RemoveOriginalAttributes: cfg.RemoveOriginalAttributes,
			RedactedHeaders:          cfg.RedactedHeaders,
			RedactApplicationSpans:   cfg.RedactApplicationSpans,
			Canary:                   cfg.Canary,
		}),
		telemetry: tb,
	}, nil
}

func (p *meshProcessor) shutdown(context.Context) error {
	p.telemetry.Shutdown()
	return nil
}

func (p *meshProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	p.report(ctx, p.normalizer.Traces(td, envoyUserAgent(ctx)))
	return td, nil
}

// envoyUserAgent returns the User-Agent of the export request when the
// receiver runs with include_metadata and Envoy sent it.
func envoyUserAgent(ctx context.Context) string {
	for _, ua := range client.FromContext(ctx).Metadata.Get("user-agent") {
		if normalize.IsEnvoyUserAgent(ua) {
			return ua
		}
	}
	return ""
}

func (p *meshProcessor) report(ctx context.Context, c normalize.Counts) {
	t := p.telemetry
	for k, n := range c.Spans {
		t.ProcessorMeshSpans.Add(ctx, n, metric.WithAttributeSet(attribute.NewSet(
			attribute.String("mesh.proxy", k.Proxy), attribute.String("mesh.name", k.Mesh))))
	}
	for input, n := range c.Malformed {
		t.ProcessorMeshMalformedInputs.Add(ctx, n, metric.WithAttributeSet(attribute.NewSet(attribute.String("input", input))))
	}
	for rule, n := range c.Canary {
		t.ProcessorMeshCanarySpans.Add(ctx, n, metric.WithAttributeSet(attribute.NewSet(attribute.String("rule", rule))))
	}
}
