package decodeguardextension

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-mesh/otelcol-mesh/extension/decodeguardextension/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	for name, want := range map[string]any{
		"":        &Config{MaxDepth: 64},
		"strict":  &Config{MaxDepth: 32},
		"too_low": "max_depth: 3 must be between 16 and 10000",
	} {
		t.Run(name, func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = cfg.(*Config).Validate()
			if msg, isErr := want.(string); isErr {
				require.ErrorContains(t, err, msg)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, want, cfg)
		})
	}
}
