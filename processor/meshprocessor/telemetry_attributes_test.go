package meshprocessor

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadatatest"
)

// metadataFile is the part of metadata.yaml that documents the telemetry
// attributes (documentation.md is generated from it).
type metadataFile struct {
	Attributes map[string]struct {
		NameOverride string   `yaml:"name_override"`
		Enum         []string `yaml:"enum"`
	} `yaml:"attributes"`
	Telemetry struct {
		Metrics map[string]struct {
			Attributes []string `yaml:"attributes"`
		} `yaml:"metrics"`
	} `yaml:"telemetry"`
}

// TestTelemetryAttributesDocumented records the processor's metrics on
// normalizing and sampling traffic and checks every data point against
// metadata.yaml: its attribute keys are exactly those declared for its
// metric, and values are in the declared enum.
func TestTelemetryAttributesDocumented(t *testing.T) {
	raw, err := os.ReadFile("metadata.yaml")
	require.NoError(t, err)
	var md metadataFile
	require.NoError(t, yaml.Unmarshal(raw, &md))

	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	// Normalizing: every golden input (malformed values, canary rules).
	inputs, err := filepath.Glob(filepath.Join(goldenDir, "*_input.yaml"))
	require.NoError(t, err)
	for _, in := range inputs {
		td, err := golden.ReadTraces(in)
		require.NoError(t, err)
		_ = process(t, goldenConfig(), metadatatest.NewSettings(tel), td)
	}
	// Sampling: traces decided at shutdown, errors kept, the rest dropped;
	// a span sent again after its trace was decided is a late span.
	cfg := createDefaultConfig().(*Config)
	cfg.Sampling.Enabled = true
	cfg.Sampling.SettleTime = cfg.Sampling.MaxWait / 2
	sink := new(consumertest.TracesSink)
	p, err := NewFactory().CreateTraces(t.Context(), metadatatest.NewSettings(tel), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(t.Context(), componenttest.NewNopHost()))
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.3, FlagRate: 0.2, CanaryShare: 0.2, Seed: 5})
	for range 30 {
		require.NoError(t, p.ConsumeTraces(t.Context(), g.Next().Traces))
	}
	require.NoError(t, p.Shutdown(t.Context()))

	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.Reader.Collect(context.Background(), &rm))
	seen := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor" {
			continue
		}
		for _, m := range sm.Metrics {
			name := strings.TrimPrefix(m.Name, "otelcol_")
			decl, ok := md.Telemetry.Metrics[name]
			require.True(t, ok, "%s is not in metadata.yaml", m.Name)
			want := map[string][]string{} // recorded key → enum
			for _, a := range decl.Attributes {
				attr, ok := md.Attributes[a]
				require.True(t, ok, "%s: attribute %s is not declared", name, a)
				key := a
				if attr.NameOverride != "" {
					key = attr.NameOverride
				}
				want[key] = attr.Enum
			}
			for _, set := range dataPointAttributes(t, m) {
				seen[name] = true
				assert.Equal(t, len(want), set.Len(), "%s: attributes %v, declared %v", name, set.Encoded(attribute.DefaultEncoder()), decl.Attributes)
				for _, kv := range set.ToSlice() {
					enum, ok := want[string(kv.Key)]
					if assert.True(t, ok, "%s: undeclared attribute %s", name, kv.Key) && enum != nil {
						assert.True(t, slices.Contains(enum, kv.Value.AsString()), "%s: %s=%q not in the declared %v", name, kv.Key, kv.Value.AsString(), enum)
					}
				}
			}
		}
	}
	for _, name := range []string{"processor_mesh_spans", "processor_mesh_malformed_inputs", "processor_mesh_canary_spans",
		"processor_mesh_sampling_decisions", "processor_mesh_sampling_forced_decisions", "processor_mesh_sampling_dropped_spans"} {
		assert.True(t, seen[name], "no data point of %s", name)
	}
}

func dataPointAttributes(t *testing.T, m metricdata.Metrics) []attribute.Set {
	var sets []attribute.Set
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, dp := range d.DataPoints {
			sets = append(sets, dp.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, dp := range d.DataPoints {
			sets = append(sets, dp.Attributes)
		}
	case metricdata.Gauge[int64]:
		for _, dp := range d.DataPoints {
			sets = append(sets, dp.Attributes)
		}
	default:
		t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
	}
	return sets
}
