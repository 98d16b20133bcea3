package e2e

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openzipkin/zipkin-go"
	zipkinmodel "github.com/openzipkin/zipkin-go/model"
	zipkinhttp "github.com/openzipkin/zipkin-go/reporter/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// passThroughConfig receives OTLP and Zipkin and exports to the test sink.
const passThroughConfig = `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {{.OTLPGRPC}}
  zipkin:
    endpoint: {{.Zipkin}}
processors:
  mesh:
service:
  pipelines:
    traces:
      receivers: [otlp, zipkin]
      processors: [mesh]
      exporters: [otlp_grpc]
`

func TestShippedConfigsValidate(t *testing.T) {
	files, err := filepath.Glob(repoPath("configs", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := validate(t.Context(), f)
			assert.NoError(t, err, out)
		})
	}
}

func TestBrokenConfigNamesTheKey(t *testing.T) {
	tests := []struct {
		name, mesh, want string
	}{
		{"unknown key", "mesh:\n  sampling_rate_typo: 3\n", "sampling_rate_typo"},
		{"invalid value", "mesh:\n  istio_proxy_shas:\n    xyz: 1.25.0\n", `istio_proxy_shas: key "xyz"`},
		{"wrong type", "mesh:\n  remove_original_attributes: [1]\n", "remove_original_attributes"},
		{"invalid sampling value", "mesh:\n  sampling:\n    enabled: true\n    settle_time: 0s\n", "sampling.settle_time: 0s must be between"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\nprocessors:\n" +
				indent(tt.mesh) + "exporters:\n  nop:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [mesh]\n      exporters: [nop]\n"
			path := filepath.Join(t.TempDir(), "broken.yaml")
			require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
			out, err := validate(t.Context(), path)
			require.Error(t, err, "validate accepted a broken config:\n%s", cfg)
			assert.Contains(t, out, tt.want)
		})
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

func TestOTLPAndZipkinSpansArriveIntact(t *testing.T) {
	s := startSink(t)
	c := startCollector(t, passThroughConfig, s.addr)

	resp, err := http.Get("http://" + c.ports.Health + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "health_check")

	sendOTLPSpan(t, c.ports.OTLPGRPC)
	sendZipkinSpan(t, c.ports.Zipkin)

	spans := s.waitForSpans(t, 2, 20*time.Second)
	require.Len(t, spans, 2)

	otlp := findSpan(t, spans, "GET /checkout")
	assert.Equal(t, ptrace.SpanKindServer, otlp.Span.Kind())
	assertAttr(t, otlp.Span.Attributes().AsRaw(), "http.request.method", "GET")
	assertAttr(t, otlp.Span.Attributes().AsRaw(), "http.response.status_code", int64(200))
	assertAttr(t, otlp.Span.Attributes().AsRaw(), "app.cart.items", int64(3))
	assertAttr(t, otlp.Span.Attributes().AsRaw(), "app.premium", true)
	assertAttr(t, otlp.Resource.Resource().Attributes().AsRaw(), "service.name", "checkout")
	assertAttr(t, otlp.Resource.Resource().Attributes().AsRaw(), "service.version", "1.4.2")

	zip := findSpan(t, spans, "get /ratings")
	assert.Equal(t, ptrace.SpanKindClient, zip.Span.Kind())
	assertAttr(t, zip.Span.Attributes().AsRaw(), "app.user", "jason")
	assertAttr(t, zip.Span.Attributes().AsRaw(), "http.path", "/ratings/0")
	assertAttr(t, zip.Resource.Resource().Attributes().AsRaw(), "service.name", "reviews")

	// Internal metrics: the receivers counted what they accepted.
	require.Eventually(t, func() bool {
		m := scrapeMetrics(t, c.ports.Metrics)
		return m[`otelcol_receiver_accepted_spans|receiver="otlp"`] == 1 &&
			m[`otelcol_receiver_accepted_spans|receiver="zipkin"`] == 1
	}, 10*time.Second, 100*time.Millisecond, "accepted span metrics")
}

func assertAttr(t *testing.T, attrs map[string]any, key string, want any) {
	t.Helper()
	got, ok := attrs[key]
	if assert.True(t, ok, "attribute %q missing in %v", key, attrs) {
		assert.Equal(t, want, got, "attribute %q", key)
	}
}

func sendOTLPSpan(t *testing.T, endpoint string) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(
			attribute.String("service.name", "checkout"),
			attribute.String("service.version", "1.4.2"),
		)),
	)
	_, span := tp.Tracer("e2e").Start(ctx, "GET /checkout", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", "GET"),
			attribute.Int("http.response.status_code", 200),
			attribute.Int("app.cart.items", 3),
			attribute.Bool("app.premium", true),
		))
	span.End()
	require.NoError(t, tp.Shutdown(ctx))
}

func sendZipkinSpan(t *testing.T, endpoint string) {
	rep := zipkinhttp.NewReporter("http://"+endpoint+"/api/v2/spans", zipkinhttp.BatchSize(1))
	ep, err := zipkin.NewEndpoint("reviews", "10.0.0.7:0")
	require.NoError(t, err)
	tracer, err := zipkin.NewTracer(rep, zipkin.WithLocalEndpoint(ep))
	require.NoError(t, err)
	span := tracer.StartSpan("get /ratings", zipkin.Kind(zipkinmodel.Client))
	span.Tag("app.user", "jason")
	span.Tag("http.path", "/ratings/0")
	span.Finish()
	require.NoError(t, rep.Close())
}

// scrapeMetrics reads the collector's Prometheus endpoint and returns values
// keyed by "<name>|<one label>" for each label of each sample, with a
// trailing _total removed from counter names.
func scrapeMetrics(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		series := line[:sp]
		name, labels, _ := strings.Cut(series, "{")
		name = strings.TrimSuffix(name, "_total")
		out[name] += v
		for _, l := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
			if l != "" {
				out[name+"|"+l] += v
			}
		}
	}
	return out
}
