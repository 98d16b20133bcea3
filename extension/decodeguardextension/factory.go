package decodeguardextension // import "github.com/otelcol-mesh/otelcol-mesh/extension/decodeguardextension"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-mesh/otelcol-mesh/extension/decodeguardextension/internal/metadata"
)

// NewFactory returns the factory of the decode guard extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	return &Config{MaxDepth: 64}
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &guard{maxDepth: cfg.(*Config).MaxDepth, tel: tel}, nil
}
