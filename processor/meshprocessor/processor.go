package meshprocessor // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
)

type meshProcessor struct {
	cfg *Config
}

func newMeshProcessor(_ processor.Settings, cfg *Config) *meshProcessor {
	return &meshProcessor{cfg: cfg}
}

func (p *meshProcessor) processTraces(_ context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	return td, nil
}
