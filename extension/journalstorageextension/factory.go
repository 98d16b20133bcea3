package journalstorageextension // import "github.com/otelcol-mesh/otelcol-mesh/extension/journalstorageextension"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-mesh/otelcol-mesh/extension/journalstorageextension/internal/metadata"
)

// NewFactory returns the factory of the journal storage extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	return &Config{}
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &journalStorage{cfg: cfg.(*Config), logger: set.Logger, tel: tel}, nil
}
