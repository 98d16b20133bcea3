package meshprocessor // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/sampling"
)

// samplingProcessor normalizes spans and hands them to the tail sampler,
// which passes kept traces on from its own goroutine.
type samplingProcessor struct {
	mesh   *meshProcessor
	engine *sampling.Engine
	// counts reports processorhelper's incoming/outgoing items (obsreport.go).
	counts *itemCounts
	// deferred: normalizing is deferred. Envoy spans get only what the rules
	// read when they arrive, and the rest once kept (nine in ten are not).
	deferred bool
}

func newSamplingProcessor(set processor.Settings, cfg *Config, p *meshProcessor, next consumer.Traces, clock sampling.Clock) *samplingProcessor {
	sp := &samplingProcessor{mesh: p, deferred: deferNormalizing(cfg)}
	var finish func(ptrace.Traces)
	if sp.deferred {
		finish = sp.finish
	}
	sp.engine = sampling.New(cfg.Sampling, next, finish, p.telemetry, set.Logger, clock)
	return sp
}

// deferNormalizing reports whether normalizing can wait for the decision:
// not when rules match span attributes (they may read any normalized key),
// nor when the proxy's own tags are removed: the rules would then see
// retry.count before the decision, where normalizing at once removes it
// (a retry.count such as "abc" or "00" is a retry only to the first).
func deferNormalizing(cfg *Config) bool {
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

// finish completes normalizing on kept spans. It runs on whichever
// goroutine passes kept spans on (the sampler's tick, Ingest, Shutdown); the
// normalizer is safe for concurrent use.
func (sp *samplingProcessor) finish(td ptrace.Traces) {
	sp.mesh.report(context.Background(), sp.mesh.normalizer.Finish(td))
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
	if sp.deferred {
		sp.mesh.report(ctx, sp.mesh.normalizer.DecisionAttributes(td, envoyUserAgent(ctx)))
	} else {
		sp.mesh.report(ctx, sp.mesh.normalizer.Traces(td, envoyUserAgent(ctx)))
	}
	return sp.engine.Ingest(ctx, td)
}
