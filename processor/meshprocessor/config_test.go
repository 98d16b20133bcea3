package meshprocessor

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadata"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/normalize"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/sampling"
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
				Naming:                   "semconv",
				RedactedHeaders:          []string{"authorization", "x-api-key"},
				RedactApplicationSpans:   false,
				IstioProxySHAs:           map[string]string{"0123456789ab": "1.31.0"},
				Canary: normalize.CanaryConfig{
					Subsets:        []string{"canary", "v2"},
					HostSuffixes:   []string{"-canary"},
					Headers:        map[string][]string{"x-canary": {"always", "insider"}},
					ResourceLabels: map[string][]string{"linkerd.io/proxy-deployment": {"podinfo-canary"}},
				},
				Sampling: func() sampling.Config {
					s := sampling.DefaultConfig()
					s.Enabled = true
					s.SettleTime = 2 * time.Second
					s.MaxBufferedBytes = 1 << 20
					s.RecordRule = true
					s.Rules.Latency.Threshold = 500 * time.Millisecond
					s.Rules.Latency.PerDestination = map[string]time.Duration{"ratings": 100 * time.Millisecond}
					million, half := 1e6, 0.5
					s.Rules.Attributes = []sampling.AttributeRuleConfig{
						{Name: "vip", Key: "user.tier", Values: []string{"gold"}},
						{Name: "big", Key: "http.response.body.size", Min: &million, Probability: &half},
					}
					s.Rules.Baseline.Probability = 0.05
					return s
				}(),
			},
		},
		{
			id:      component.NewIDWithName(metadata.Type, "bad_sampling"),
			wantErr: "sampling.settle_time must be shorter than sampling.max_wait",
		},
		{
			id:      component.NewIDWithName(metadata.Type, "bad_sha"),
			wantErr: `istio_proxy_shas: key "not-a-sha" must be 7 to 40 lower-case hex digits`,
		},
		{
			id:      component.NewIDWithName(metadata.Type, "bad_naming"),
			wantErr: `naming: "Semconv" must be "kiali"`,
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
		{"naming semconv", func(c *Config) { c.Naming = "semconv" }, ""},
		{"naming typo", func(c *Config) { c.Naming = "otel" }, `naming: "otel" must be "kiali"`},
		{"naming empty", func(c *Config) { c.Naming = "" }, `naming: "" must be "kiali"`},
		{"sha release", func(c *Config) { c.IstioProxySHAs = map[string]string{"abcdef0": "latest"} }, `istio_proxy_shas: value "latest" for "abcdef0" must be an Istio release`},
		{"short sha", func(c *Config) { c.IstioProxySHAs = map[string]string{"abc": "1.2.3"} }, `istio_proxy_shas: key "abc"`},
		{"empty subset", func(c *Config) { c.Canary.Subsets = []string{"v2", ""} }, "canary.subsets[1]: must not be empty"},
		{"empty host suffix", func(c *Config) { c.Canary.HostSuffixes = []string{""} }, "canary.host_suffixes[0]: must not be empty"},
		{"empty header", func(c *Config) { c.Canary.Headers = map[string][]string{"": nil} }, `canary.headers: "" must be a non-empty lower-case header tag name`},
		{"upper-case header", func(c *Config) { c.Canary.Headers = map[string][]string{"X-Canary": nil} }, `canary.headers: "X-Canary" must be`},
		{"min above max", func(c *Config) {
			c.Sampling.Enabled = true
			lo, hi := 10.0, 1.0
			c.Sampling.Rules.Attributes = []sampling.AttributeRuleConfig{{Name: "x", Key: "k", Min: &lo, Max: &hi}}
		}, "sampling.rules.attributes[0]: min must not be above max"},
		{"negative min_active", func(c *Config) { c.Sampling.Enabled = true; c.Sampling.StressRelief.MinActive = -time.Second }, "sampling.stress_relief.min_active: -1s must be between 0s and 1h0m0s"},
		{"empty label", func(c *Config) { c.Canary.ResourceLabels = map[string][]string{"": {"x"}} }, "canary.resource_labels: label names must not be empty"},
		{"empty redacted header", func(c *Config) { c.RedactedHeaders = []string{""} }, "redacted_headers[0]"},
		{"sampling probability", func(c *Config) { c.Sampling.Enabled = true; c.Sampling.Rules.Baseline.Probability = 1.5 }, "sampling.rules.baseline.probability: 1.5 must be between 0 and 1"},
		{"sampling regex", func(c *Config) {
			c.Sampling.Enabled = true
			c.Sampling.Rules.Attributes = []sampling.AttributeRuleConfig{{Name: "x", Key: "k", Regex: "("}}
		}, "sampling.rules.attributes[0].regex"},
		{"sampling two matchers", func(c *Config) {
			c.Sampling.Enabled = true
			c.Sampling.Rules.Attributes = []sampling.AttributeRuleConfig{{Name: "x", Key: "k", Values: []string{"a"}, Regex: "a"}}
		}, "sampling.rules.attributes[0]: set exactly one of values, regex, min/max or bool"},
		{"sampling scope", func(c *Config) {
			c.Sampling.Enabled = true
			c.Sampling.Rules.Attributes = []sampling.AttributeRuleConfig{{Name: "x", Key: "k", Values: []string{"a"}, Scope: "trace"}}
		}, `sampling.rules.attributes[0].scope: "trace" must be span or resource`},
		{"stress levels", func(c *Config) { c.Sampling.Enabled = true; c.Sampling.StressRelief.DeactivationLevel = 0.95 }, "sampling.stress_relief: need 0 < deactivation_level < activation_level <= 1"},
		{"buffer", func(c *Config) { c.Sampling.Enabled = true; c.Sampling.MaxBufferedBytes = 0 }, "sampling.max_buffered_bytes: 0 must be between 65536 and"},
		// Values that passed validation and then broke the sampler.
		{"stress probability 0", func(c *Config) { c.Sampling.Enabled = true; c.Sampling.StressRelief.Probability = 0 }, "sampling.stress_relief.probability: 0 must be above 0 and at most 1"},
		{"stress probability NaN", func(c *Config) { c.Sampling.Enabled = true; c.Sampling.StressRelief.Probability = math.NaN() }, "sampling.stress_relief.probability: NaN"},
		{"stress levels NaN", func(c *Config) { c.Sampling.Enabled = true; c.Sampling.StressRelief.ActivationLevel = math.NaN() }, "sampling.stress_relief: need 0 < deactivation_level"},
		{"rule probability NaN", func(c *Config) { c.Sampling.Enabled = true; c.Sampling.Rules.Errors.Probability = math.NaN() }, "sampling.rules.errors.probability: NaN must be between 0 and 1"},
		{"shards", func(c *Config) { c.Sampling.Enabled = true; c.Sampling.NumShards = 1_000_000 }, "sampling.num_shards: 1000000 must be between 0 and 4096"},
		{"spans per trace 0", func(c *Config) { c.Sampling.Enabled = true; c.Sampling.MaxSpansPerTrace = 0 }, "sampling.max_spans_per_trace: 0 must be between 1 and 1000000"},
		{"bytes per trace above the buffer", func(c *Config) { c.Sampling.Enabled = true; c.Sampling.MaxBytesPerTrace = 1 << 40 }, "sampling.max_bytes_per_trace"},
		{"max_wait of a year", func(c *Config) { c.Sampling.Enabled = true; c.Sampling.MaxWait = 8760 * time.Hour }, "sampling.max_wait: 8760h0m0s must be between"},
		{"rate NaN", func(c *Config) { c.Sampling.Enabled = true; c.Sampling.RateLimit.SpansPerSecond = math.NaN() }, "sampling.rate_limit.spans_per_second: NaN"},
		{"kept cache", func(c *Config) { c.Sampling.Enabled = true; c.Sampling.DecisionCache.KeptTraces = 1 << 40 }, "sampling.decision_cache.kept_traces"},
		{"attribute min NaN", func(c *Config) {
			c.Sampling.Enabled = true
			nan := math.NaN()
			c.Sampling.Rules.Attributes = []sampling.AttributeRuleConfig{{Name: "x", Key: "k", Min: &nan}}
		}, "sampling.rules.attributes[0]: min and max must be numbers"},
		{"sampling off is not validated", func(c *Config) { c.Sampling.Rules.Baseline.Probability = 7 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.mutate(cfg)
			err := confmap.Validate(cfg) // as the collector validates: nested sections too
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
