package meshprocessor

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadatatest"
)

// goldenDir holds the golden files of normalizing, whose inputs the
// telemetry tests reuse.
var goldenDir = filepath.Join("internal", "normalize", "testdata", "golden")

// goldenConfig is the configuration the golden files were produced with.
func goldenConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Canary.Subsets = []string{"canary", "v2"}
	cfg.Canary.ResourceLabels = map[string][]string{"linkerd.io/proxy-deployment": {"podinfo-canary"}}
	return cfg
}

// process runs td through a mesh processor and returns what it passed on.
func process(t testing.TB, cfg *Config, set processor.Settings, td ptrace.Traces) ptrace.Traces {
	t.Helper()
	sink := new(consumertest.TracesSink)
	p, err := NewFactory().CreateTraces(t.Context(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(t.Context(), componenttest.NewNopHost()))
	require.NoError(t, p.ConsumeTraces(t.Context(), td))
	require.NoError(t, p.Shutdown(t.Context()))
	require.Len(t, sink.AllTraces(), 1)
	return sink.AllTraces()[0]
}

// TestTelemetry: malformed inputs and spans are counted once, whether the
// processor normalizes at once or (sampling on, every trace kept) defers
// normalizing until the decision.
func TestTelemetry(t *testing.T) {
	for _, sampling := range []bool{false, true} {
		t.Run(fmt.Sprintf("sampling %v", sampling), func(t *testing.T) {
			tel := componenttest.NewTelemetry()
			t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
			td, err := golden.ReadTraces(filepath.Join(goldenDir, "malformed_input.yaml"))
			require.NoError(t, err)
			cfg := goldenConfig()
			cfg.Sampling.Enabled = sampling
			cfg.Sampling.Rules.Baseline.Probability = 1
			sink := new(consumertest.TracesSink)
			p, err := NewFactory().CreateTraces(t.Context(), metadatatest.NewSettings(tel), cfg, sink)
			require.NoError(t, err)
			require.NoError(t, p.Start(t.Context(), componenttest.NewNopHost()))
			require.NoError(t, p.ConsumeTraces(t.Context(), td))
			require.NoError(t, p.Shutdown(t.Context())) // decides what is buffered
			require.Equal(t, 3, sink.SpanCount())

			metadatatest.AssertEqualProcessorMeshMalformedInputs(t, tel, []metricdata.DataPoint[int64]{
				{Attributes: attribute.NewSet(attribute.String("input", "node_id")), Value: 1},
				{Attributes: attribute.NewSet(attribute.String("input", "upstream_cluster")), Value: 2},
				{Attributes: attribute.NewSet(attribute.String("input", "http.status_code")), Value: 1},
				{Attributes: attribute.NewSet(attribute.String("input", "url")), Value: 1},
				{Attributes: attribute.NewSet(attribute.String("input", "request_size")), Value: 1},
				{Attributes: attribute.NewSet(attribute.String("input", "response_flags")), Value: 1},
				{Attributes: attribute.NewSet(attribute.String("input", "istio.namespace")), Value: 1},
				{Attributes: attribute.NewSet(attribute.String("input", "grpc.status_code")), Value: 1},
				{Attributes: attribute.NewSet(attribute.String("input", "server.port")), Value: 1},
			}, metricdatatest.IgnoreTimestamp())
			metadatatest.AssertEqualProcessorMeshSpans(t, tel, []metricdata.DataPoint[int64]{
				{Attributes: attribute.NewSet(attribute.String("mesh.proxy", "envoy"), attribute.String("mesh.name", "istio")), Value: 2},
				{Attributes: attribute.NewSet(attribute.String("mesh.proxy", "linkerd2-proxy"), attribute.String("mesh.name", "linkerd")), Value: 1},
			}, metricdatatest.IgnoreTimestamp())
		})
	}
}

func TestCanaryTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	for _, f := range []string{"istio_sidecar_otlp", "linkerd_218", "linkerd_219", "application"} {
		td, err := golden.ReadTraces(filepath.Join(goldenDir, f+"_input.yaml"))
		require.NoError(t, err)
		_ = process(t, goldenConfig(), metadatatest.NewSettings(tel), td)
	}
	metadatatest.AssertEqualProcessorMeshCanarySpans(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("rule", "subset")), Value: 3},
		{Attributes: attribute.NewSet(attribute.String("rule", "host_suffix")), Value: 1},
		{Attributes: attribute.NewSet(attribute.String("rule", "resource_label")), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}
