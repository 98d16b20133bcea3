package meshprocessor

import (
	"context"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadata"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadatatest"
)

var update = flag.Bool("update", false, "rewrite the golden expected files (review the diff!)")

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

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "golden", "*_input.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(inputs), 9)
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), "_input.yaml")
		t.Run(name, func(t *testing.T) {
			td, err := golden.ReadTraces(in)
			require.NoError(t, err)
			got := process(t, goldenConfig(), processortest.NewNopSettings(metadata.Type), td)
			expectedFile := filepath.Join("testdata", "golden", name+"_expected.yaml")
			if *update {
				require.NoError(t, golden.WriteTracesToFile(expectedFile, got))
			}
			want, err := golden.ReadTraces(expectedFile)
			require.NoError(t, err)
			require.NoError(t, ptracetest.CompareTraces(want, got))

			// Normalizing is idempotent: a gateway behind a sidecar that
			// both run the processor gives the same output.
			twice := process(t, goldenConfig(), processortest.NewNopSettings(metadata.Type), got)
			require.NoError(t, ptracetest.CompareTraces(want, twice), "second pass changed the output")
		})
	}
}

func TestIdempotentWithOriginalsRemoved(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "golden", "*_input.yaml"))
	require.NoError(t, err)
	cfg := goldenConfig()
	cfg.RemoveOriginalAttributes = true
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			td, err := golden.ReadTraces(in)
			require.NoError(t, err)
			once := process(t, cfg, processortest.NewNopSettings(metadata.Type), td)
			again := ptrace.NewTraces()
			once.CopyTo(again)
			twice := process(t, cfg, processortest.NewNopSettings(metadata.Type), again)
			require.NoError(t, ptracetest.CompareTraces(once, twice))
		})
	}
}

func TestRemoveOriginalAttributes(t *testing.T) {
	td, err := golden.ReadTraces(filepath.Join("testdata", "golden", "istio_sidecar_otlp_input.yaml"))
	require.NoError(t, err)
	cfg := goldenConfig()
	cfg.RemoveOriginalAttributes = true
	got := process(t, cfg, processortest.NewNopSettings(metadata.Type), td)
	span := got.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1)
	attrs := span.Attributes().AsRaw()
	for _, k := range []string{"node_id", "http.method", "http.status_code", "http.url", "upstream_cluster", "upstream_cluster.name", "response_flags", "peer.address", "istio.canonical_service"} {
		assert.NotContains(t, attrs, k)
	}
	assert.Equal(t, int64(503), attrs["http.response.status_code"])
	assert.Equal(t, "UF,URX", attrs["mesh.response_flags"])
	assert.Equal(t, "cluster.local", attrs["istio.mesh_id"], "unmapped tags stay")
}

func TestTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	td, err := golden.ReadTraces(filepath.Join("testdata", "golden", "malformed_input.yaml"))
	require.NoError(t, err)
	_ = process(t, goldenConfig(), metadatatest.NewSettings(tel), td)

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
}

func TestCanaryTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	for _, f := range []string{"istio_sidecar_otlp", "linkerd_218", "linkerd_219", "application"} {
		td, err := golden.ReadTraces(filepath.Join("testdata", "golden", f+"_input.yaml"))
		require.NoError(t, err)
		_ = process(t, goldenConfig(), metadatatest.NewSettings(tel), td)
	}
	metadatatest.AssertEqualProcessorMeshCanarySpans(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("rule", "subset")), Value: 3},
		{Attributes: attribute.NewSet(attribute.String("rule", "host_suffix")), Value: 1},
		{Attributes: attribute.NewSet(attribute.String("rule", "resource_label")), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}
