package meshprocessor // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor"

import (
	"context"
	"regexp"
	"runtime"

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
		engine: sampling.New(engineSettings(cfg.Sampling), next, p.telemetry, set.Logger, nil),
	}
}

// engineSettings translates the validated configuration.
func engineSettings(c SamplingConfig) sampling.Settings {
	shards := c.NumShards
	if shards == 0 {
		shards = 16 * runtime.GOMAXPROCS(0)
	}
	s := sampling.Settings{
		SettleTime:       c.SettleTime,
		MaxWait:          c.MaxWait,
		MaxSpansPerTrace: c.MaxSpansPerTrace,
		MaxBytesPerTrace: c.MaxBytesPerTrace,
		MaxBufferedBytes: c.MaxBufferedBytes,
		Shards:           shards,
		KeptCacheSize:    c.DecisionCache.KeptTraces,
		DroppedCacheSize: c.DecisionCache.DroppedTraces,
		TracesPerSecond:  c.RateLimit.TracesPerSecond,
		SpansPerSecond:   c.RateLimit.SpansPerSecond,
		RecordRule:       c.RecordRule,
		Rules: sampling.Rules{
			Errors:       c.Rules.Errors.Probability,
			MeshFailures: c.Rules.MeshFailures.Probability,
			Latency: sampling.LatencyRule{
				Probability:    c.Rules.Latency.Probability,
				Threshold:      c.Rules.Latency.Threshold,
				PerDestination: c.Rules.Latency.PerDestination,
			},
			Canary:       c.Rules.Canary.Probability,
			EdgeCoverage: sampling.EdgeCoverageRule{MinTraces: c.Rules.EdgeCoverage.MinTraces, Window: c.Rules.EdgeCoverage.Window},
			Baseline:     c.Rules.Baseline.Probability,
		},
	}
	if c.StressRelief.Enabled {
		s.StressRelief = sampling.StressRelief{
			Activate:    c.StressRelief.ActivationLevel,
			Deactivate:  c.StressRelief.DeactivationLevel,
			MinActive:   c.StressRelief.MinActive,
			Probability: c.StressRelief.Probability,
		}
	}
	for _, a := range c.Rules.Attributes {
		r := sampling.AttributeRule{
			Name: a.Name, Key: a.Key, Resource: a.Scope == "resource", Values: a.Values,
			Min: a.Min, Max: a.Max, Bool: a.Bool, Probability: a.probability(),
		}
		if a.Regex != "" {
			r.Regex = regexp.MustCompile(a.Regex) // validated
		}
		s.Rules.Attributes = append(s.Rules.Attributes, r)
	}
	return s
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
