package normalize

import (
	"flag"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/istiorelease"
)

// defaultSettings are those of the processor's default configuration.
func defaultSettings(t testing.TB) Settings {
	releases, err := istiorelease.New(nil)
	require.NoError(t, err)
	return Settings{
		Releases:               releases,
		RedactedHeaders:        []string{"authorization", "proxy-authorization", "cookie", "set-cookie"},
		RedactApplicationSpans: true,
		Canary: CanaryConfig{
			Subsets:      []string{"canary"},
			HostSuffixes: []string{"-canary"},
			Headers:      map[string][]string{"x-canary": nil},
		},
	}
}

// goldenSettings are the settings the golden files were produced with.
func goldenSettings(t testing.TB) Settings {
	set := defaultSettings(t)
	set.Canary.Subsets = []string{"canary", "v2"}
	set.Canary.ResourceLabels = map[string][]string{"linkerd.io/proxy-deployment": {"podinfo-canary"}}
	return set
}

// goldenInputs reads every golden input, by file name.
func goldenInputs(t *testing.T) map[string]ptrace.Traces {
	t.Helper()
	inputs := map[string]ptrace.Traces{}
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*_input.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		td, err := golden.ReadTraces(f)
		require.NoError(t, err)
		inputs[filepath.Base(f)] = td
	}
	return inputs
}

// process normalizes td (a request without an Envoy User-Agent) and returns it.
func process(t testing.TB, set Settings, td ptrace.Traces) ptrace.Traces {
	t.Helper()
	New(set).Traces(td, "")
	return td
}

var update = flag.Bool("update", false, "rewrite the golden expected files (review the diff!)")

// TestGolden runs the default configuration (naming: kiali): Istio proxy
// spans keep their service.name and span names.
func TestGolden(t *testing.T) {
	runGolden(t, goldenSettings(t), filepath.Join("testdata", "golden"))
}

// TestGoldenSemconvNaming runs the same inputs with naming: semconv, whose
// expected files are those of the processor before Kiali-safe naming became
// the default: only service.name, the span names and the attributes keeping
// the proxy's names differ from the default ones.
func TestGoldenSemconvNaming(t *testing.T) {
	cfg := goldenSettings(t)
	cfg.SemconvNames = true
	runGolden(t, cfg, filepath.Join("testdata", "golden", "naming_semconv"))
}

// runGolden processes every testdata/golden/*_input.yaml with cfg and
// compares the output with <name>_expected.yaml in expectedDir.
func runGolden(t *testing.T, cfg Settings, expectedDir string) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "golden", "*_input.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(inputs), 9)
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), "_input.yaml")
		t.Run(name, func(t *testing.T) {
			td, err := golden.ReadTraces(in)
			require.NoError(t, err)
			got := process(t, cfg, td)
			expectedFile := filepath.Join(expectedDir, name+"_expected.yaml")
			if *update {
				require.NoError(t, golden.WriteTracesToFile(expectedFile, got))
			}
			want, err := golden.ReadTraces(expectedFile)
			require.NoError(t, err)
			require.NoError(t, ptracetest.CompareTraces(want, got))

			// Normalizing is idempotent: a gateway behind a sidecar that
			// both run the processor gives the same output.
			twice := process(t, cfg, got)
			require.NoError(t, ptracetest.CompareTraces(want, twice), "second pass changed the output")
		})
	}
}

func TestIdempotentWithOriginalsRemoved(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "golden", "*_input.yaml"))
	require.NoError(t, err)
	cfg := goldenSettings(t)
	cfg.RemoveOriginalAttributes = true
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			td, err := golden.ReadTraces(in)
			require.NoError(t, err)
			once := process(t, cfg, td)
			again := ptrace.NewTraces()
			once.CopyTo(again)
			twice := process(t, cfg, again)
			require.NoError(t, ptracetest.CompareTraces(once, twice))
		})
	}
}

func TestRemoveOriginalAttributes(t *testing.T) {
	td, err := golden.ReadTraces(filepath.Join("testdata", "golden", "istio_sidecar_otlp_input.yaml"))
	require.NoError(t, err)
	cfg := goldenSettings(t)
	cfg.RemoveOriginalAttributes = true
	got := process(t, cfg, td)
	span := got.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1)
	attrs := span.Attributes().AsRaw()
	for _, k := range []string{"node_id", "http.method", "http.status_code", "http.url", "upstream_cluster", "upstream_cluster.name", "response_flags", "peer.address", "istio.canonical_service"} {
		assert.NotContains(t, attrs, k)
	}
	assert.Equal(t, int64(503), attrs["http.response.status_code"])
	assert.Equal(t, "UF,URX", attrs["mesh.response_flags"])
	assert.Equal(t, "cluster.local", attrs["istio.mesh_id"], "unmapped tags stay")
}

// kialiTags are the span tags Kiali reads from stored traces
// (kiali/kiali: frontend/src/utils/tracing/TracingHelper.ts and the span
// details): they must reach the backend as the proxy sent them.
var kialiTags = []string{"node_id", "upstream_cluster", "http.status_code", "http.url", "http.method",
	"response_flags", "component", "peer.address", "hostname", "error", "guid:x-request-id"}

// TestKialiSafeDefaults checks the default configuration against what Kiali
// needs from Istio proxy spans: the proxy's service.name and span name, every
// tag Kiali reads with its value and type, and status Error on 5xx and
// error=true spans (Jaeger's error=true query).
func TestKialiSafeDefaults(t *testing.T) {
	inputs := goldenInputs(t)
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.3, FlagRate: 0.3, CanaryShare: 0.2, Seed: 7})
	gen := ptrace.NewTraces()
	for range 50 {
		g.Next().Traces.ResourceSpans().MoveAndAppendTo(gen.ResourceSpans())
	}
	inputs["meshgen istio"] = gen

	errorSpans := 0
	for name, in := range inputs {
		before := ptrace.NewTraces()
		in.CopyTo(before)
		out := process(t, defaultSettings(t), in)
		require.Equal(t, before.SpanCount(), out.SpanCount(), name)
		for i, rs := range out.ResourceSpans().All() {
			res := rs.Resource().Attributes()
			if proxy, _ := res.Get("mesh.proxy"); proxy.Str() != "envoy" {
				continue
			}
			brs := before.ResourceSpans().At(i)
			if svc, ok := brs.Resource().Attributes().Get("service.name"); ok && svc.Str() != "unknown_service:envoy" {
				got, _ := res.Get("service.name")
				assert.Equal(t, svc.Str(), got.Str(), "%s: the proxy's service.name stays", name)
			}
			for j, ss := range rs.ScopeSpans().All() {
				for k, span := range ss.Spans().All() {
					orig := brs.ScopeSpans().At(j).Spans().At(k)
					assert.Equal(t, orig.Name(), span.Name(), "%s: the proxy's span name stays", name)
					for _, key := range kialiTags {
						want, ok := orig.Attributes().Get(key)
						if !ok {
							continue
						}
						got, ok := span.Attributes().Get(key)
						if assert.True(t, ok, "%s: %s %s removed", name, span.Name(), key) {
							assert.Equal(t, want.Type(), got.Type(), "%s: %s retyped", name, key)
							assert.Equal(t, want.AsRaw(), got.AsRaw(), "%s: %s changed", name, key)
						}
					}
					for key, v := range orig.Attributes().All() {
						if strings.HasPrefix(key, "istio.") {
							got, _ := span.Attributes().Get(key)
							assert.Equal(t, v.AsRaw(), got.AsRaw(), "%s: %s changed", name, key)
						}
					}
					code, errTag := tagString(orig.Attributes(), "http.status_code"), tagString(orig.Attributes(), "error")
					if n, err := strconv.Atoi(code); (err == nil && n >= 500) || errTag == "true" {
						errorSpans++
						assert.Equal(t, ptrace.StatusCodeError, span.Status().Code(), "%s: %s with status %s error=%s", name, span.Name(), code, errTag)
					}
				}
			}
		}
	}
	assert.Greater(t, errorSpans, 10, "the inputs hold 5xx and error=true spans")
}

func tagString(m pcommon.Map, key string) string {
	if v, ok := m.Get(key); ok {
		return v.AsString()
	}
	return ""
}
