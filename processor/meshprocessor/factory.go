package meshprocessor // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadata"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/normalize"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/sampling"
)

// NewFactory returns the factory of the mesh processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTraces, metadata.TracesStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Naming:                 namingKiali,
		RedactedHeaders:        []string{"authorization", "proxy-authorization", "cookie", "set-cookie"},
		RedactApplicationSpans: true,
		Canary: normalize.CanaryConfig{
			Subsets:      []string{"canary"},
			HostSuffixes: []string{"-canary"},
			Headers:      map[string][]string{"x-canary": nil},
		},
		Sampling: sampling.DefaultConfig(),
	}
}

func createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	c := cfg.(*Config)
	p, err := newMeshProcessor(set, c)
	if err != nil {
		return nil, err
	}
	if c.Sampling.Enabled {
		counts, err := newItemCounts(set)
		if err != nil {
			return nil, err
		}
		sp := newSamplingProcessor(set, c, p, counts.countOutgoing(next), nil)
		sp.counts = counts
		return sp, nil
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}),
		processorhelper.WithShutdown(p.shutdown))
}
