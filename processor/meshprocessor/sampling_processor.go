package meshprocessor // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/normalize"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/sampling"
)

// samplingProcessor normalizes spans and hands them to the tail sampler,
// which passes kept traces on from its own goroutine.
type samplingProcessor struct {
	mesh   *meshProcessor
	engine *sampling.Engine
	// counts reports processorhelper's incoming/outgoing items (obsreport.go).
	counts *itemCounts
	// decisionOnly: Envoy spans get only what the rules read when they
	// arrive, and the rest of normalizing once kept (nine in ten are not).
	decisionOnly bool
}

func newSamplingProcessor(set processor.Settings, cfg *Config, p *meshProcessor, next consumer.Traces, clock sampling.Clock) *samplingProcessor {
	sp := &samplingProcessor{mesh: p, decisionOnly: splitNormalizing(cfg)}
	var finish func(ptrace.Traces)
	if sp.decisionOnly {
		finish = sp.finish
	}
	sp.engine = sampling.New(cfg.Sampling, next, finish, p.telemetry, set.Logger, clock)
	return sp
}

// splitNormalizing reports whether normalizing can wait for the decision:
// not when rules match arbitrary span attributes (they may read any
// normalized key), nor when the proxy's own tags are removed (the rules
// read retry.count).
func splitNormalizing(cfg *Config) bool {
	if cfg.RemoveOriginalAttributes {
		return false
	}
	for _, a := range cfg.Sampling.Rules.Attributes {
		if a.Scope != "resource" {
			return false
		}
	}
	return true
}

// finish normalizes kept spans, on the engine's goroutine. Malformed inputs
// are counted here, on the spans that are kept (the rest was counted when
// they arrived).
func (sp *samplingProcessor) finish(td ptrace.Traces) {
	c := sp.mesh.normalizer.Traces(td, "")
	sp.mesh.report(context.Background(), normalize.Counts{Malformed: c.Malformed})
}

func (sp *samplingProcessor) Start(context.Context, component.Host) error {
	sp.engine.Start()
	return nil
}

func (sp *samplingProcessor) Shutdown(ctx context.Context) error {
	err := sp.engine.Shutdown(ctx)
	_ = sp.mesh.shutdown(ctx)
	return err
}

func (sp *samplingProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

func (sp *samplingProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	sp.counts.addIncoming(ctx, td.SpanCount())
	if sp.decisionOnly {
		c := sp.mesh.normalizer.DecisionAttributes(td, envoyUserAgent(ctx))
		c.Malformed = nil // counted on the spans that are kept, by finish
		sp.mesh.report(ctx, c)
	} else {
		sp.mesh.report(ctx, sp.mesh.normalizer.Traces(td, envoyUserAgent(ctx)))
	}
	return sp.engine.Ingest(ctx, td)
}
