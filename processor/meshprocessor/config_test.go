package meshprocessor

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	tests := []struct {
		id      component.ID
		want    *Config
		wantErr string
	}{
		{
			id:   component.NewID(metadata.Type),
			want: createDefaultConfig().(*Config),
		},
		{
			id: component.NewIDWithName(metadata.Type, "custom"),
			want: &Config{
				RemoveOriginalAttributes: true,
				RedactedHeaders:          []string{"authorization", "x-api-key"},
				IstioProxySHAs:           map[string]string{"0123456789ab": "1.31.0"},
				Canary: CanaryConfig{
					Subsets:        []string{"canary", "v2"},
					HostSuffixes:   []string{"-canary"},
					Headers:        map[string][]string{"x-canary": {"always", "insider"}},
					ResourceLabels: map[string][]string{"linkerd.io/proxy-deployment": {"podinfo-canary"}},
				},
			},
		},
		{
			id:      component.NewIDWithName(metadata.Type, "bad_sha"),
			wantErr: `istio_proxy_shas: key "not-a-sha" must be 7 to 40 lower-case hex digits`,
		},
		{
			id:      component.NewIDWithName(metadata.Type, "bad_header"),
			wantErr: `redacted_headers[0]: "Authorization" must be a non-empty lower-case header name`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"sha release", func(c *Config) { c.IstioProxySHAs = map[string]string{"abcdef0": "latest"} }, `istio_proxy_shas: value "latest" for "abcdef0" must be an Istio release`},
		{"short sha", func(c *Config) { c.IstioProxySHAs = map[string]string{"abc": "1.2.3"} }, `istio_proxy_shas: key "abc"`},
		{"empty subset", func(c *Config) { c.Canary.Subsets = []string{"v2", ""} }, "canary.subsets[1]: must not be empty"},
		{"empty host suffix", func(c *Config) { c.Canary.HostSuffixes = []string{""} }, "canary.host_suffixes[0]: must not be empty"},
		{"empty header", func(c *Config) { c.Canary.Headers = map[string][]string{"": nil} }, "canary.headers: attribute names must not be empty"},
		{"empty label", func(c *Config) { c.Canary.ResourceLabels = map[string][]string{"": {"x"}} }, "canary.resource_labels: label names must not be empty"},
		{"empty redacted header", func(c *Config) { c.RedactedHeaders = []string{""} }, "redacted_headers[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.mutate(cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
