package journalstorageextension

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-mesh/otelcol-mesh/extension/journalstorageextension/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	for name, want := range map[string]any{
		"":             &Config{Directory: "/var/lib/otelcol-mesh", CreateDirectory: true},
		"fsync":        &Config{Directory: "/var/lib/otelcol-mesh", CreateDirectory: true, Fsync: true},
		"no_directory": "directory must be set",
		"missing":      `directory "/does/not/exist": stat /does/not/exist: no such file or directory (set create_directory: true to create it)`,
	} {
		t.Run(name, func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = cfg.(*Config).Validate()
			if msg, isErr := want.(string); isErr {
				require.EqualError(t, err, msg)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, want, cfg)
		})
	}
}

func TestDirectoryMustBeADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, writeFile(file))
	assert.EqualError(t, (&Config{Directory: file}).Validate(), `directory "`+file+`" is not a directory`)
}
