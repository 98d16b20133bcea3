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
}

func newSamplingProcessor(set processor.Settings, cfg *Config, p *meshProcessor, next consumer.Traces) *samplingProcessor {
	return &samplingProcessor{
		mesh:   p,
		engine: sampling.New(cfg.Sampling, next, p.telemetry, set.Logger, nil),
	}
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
	td, err := sp.mesh.processTraces(ctx, td)
	if err != nil {
		return err
	}
	return sp.engine.Ingest(ctx, td)
}
