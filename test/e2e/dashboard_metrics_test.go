package e2e

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	agenttracepb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/trace/v1"
	tracepb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

// metricName finds the collector metric names in a PromQL expression, bare
// (otelcol_exporter_queue_size / ...) or in a name matcher
// ({__name__=~"otelcol_receiver_refused_spans(_total)?"}). That every
// expression parses is checked in test/deploy with Prometheus' parser.
var metricName = regexp.MustCompile(`otelcol_[a-zA-Z0-9_]*[a-zA-Z0-9]`)

// dashboardExprs returns the PromQL of every panel target and query variable
// of the Grafana dashboard, keyed by where it is.
func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(repoPath("deploy", "grafana", "otelcol-mesh-dashboard.json"))
	require.NoError(t, err)
	type panel struct {
		Title   string  `json:"title"`
		Panels  []panel `json:"panels"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	}
	var d struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(raw, &d))
	out := map[string]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for i, tg := range p.Targets {
				out["panel "+p.Title+" #"+string(rune('A'+i))] = tg.Expr
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(string); ok && v.Type == "query" {
			out["variable "+v.Name] = q
		}
	}
	return out
}

// ruleExprs returns the expression of every alert of the PrometheusRule.
func ruleExprs(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(repoPath("deploy", "prometheus", "prometheusrule.yaml"))
	require.NoError(t, err)
	var pr struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert string `yaml:"alert"`
					Expr  string `yaml:"expr"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		} `yaml:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &pr))
	require.Equal(t, "PrometheusRule", pr.Kind)
	out := map[string]string{}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			out["alert "+r.Alert] = r.Expr
		}
	}
	return out
}

// scrapeNames returns the metric names (series names, _bucket and all) that
// a collector's /metrics lists.
func scrapeNames(t *testing.T, c *collector) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for k := range scrapeMetrics(t, c.ports.Metrics) {
		if !strings.Contains(k, "|") {
			names[k] = true
		}
	}
	return names
}

// exists: the name as written, or a counter spelled with _total (which
// scrapeMetrics strips), or a histogram's series.
func exists(names map[string]bool, n string) bool {
	return names[n] || names[strings.TrimSuffix(n, "_total")] || names[n+"_bucket"]
}

// malformed makes every proxy tag value of the traces unparseable: a status
// code that is no number, an Istio node id that does not parse.
func malformed(td ptrace.Traces) ptrace.Traces {
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				a := spans.At(k).Attributes()
				if _, ok := a.Get("http.status_code"); ok {
					a.PutStr("http.status_code", "five-hundred")
				}
				if _, ok := a.Get("node_id"); ok {
					a.PutStr("node_id", "sidecar~not-an-ip~broken")
				}
			}
		}
	}
	return td
}

// TestDashboardMetricsExist runs the real gateway (configs/gateway.yaml) under
// meshgen load, with errors, canary traffic, malformed proxy tags, Zipkin,
// late spans, and a sampling buffer small enough for stress relief and
// forced decisions; a second gateway whose backend is down and whose sending queue
// is tiny (export failures, a full queue, kept spans refused); and a third
// whose memory_limiter refuses everything. Every metric name that a panel,
// variable or alert of deploy/ uses must be on one of their /metrics pages,
// as written or with the _total suffix.
func TestDashboardMetricsExist(t *testing.T) {
	exprs := dashboardExprs(t)
	for k, v := range ruleExprs(t) {
		exprs[k] = v
	}
	used := map[string][]string{}
	for where, e := range exprs {
		for _, n := range metricName.FindAllString(e, -1) {
			used[n] = append(used[n], where)
		}
	}
	require.Greater(t, len(used), 20, "metric names in the dashboard and alerts: %v", used)

	opts := meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.1, FlagRate: 0.1, SlowRate: 0.05, CanaryShare: 0.2, Seed: 42}

	// A: the shipped gateway config with a 64 KiB sampling buffer, which
	// the burst below overflows: stress relief turns on. The stress relief
	// gauge is exposed from its first activation on.
	s := startSink(t)
	a := startGateway(t, s.addr, "processors::mesh::sampling::max_buffered_bytes: 65536")
	sender, err := meshgen.NewSender("otlp", a.ports.OTLPGRPC, opts)
	require.NoError(t, err)
	g := meshgen.New(opts)
	var first []meshgen.Trace
	for i := range 300 {
		tr := g.Next()
		if i < 20 {
			first = append(first, tr)
		}
		td := tr.Traces
		if i%10 == 0 {
			td = malformed(td)
		}
		require.NoError(t, sender.Send(t.Context(), td))
	}
	// Zipkin too: the zipkin receiver's accepted spans.
	zs, err := meshgen.NewSender("zipkin", a.ports.Zipkin, opts)
	require.NoError(t, err)
	for range 10 {
		require.NoError(t, zs.Send(t.Context(), g.Next().Traces))
	}
	require.NoError(t, zs.Close())
	// Wait for every decision, then send spans of decided traces: late spans.
	require.Eventually(t, func() bool {
		m := scrapeMetrics(t, a.ports.Metrics)
		return m["otelcol_processor_mesh_sampling_decisions"] > 0 && m["otelcol_processor_mesh_sampling_traces_buffered"] == 0
	}, 30*time.Second, 200*time.Millisecond, "every trace decided")
	for _, tr := range first {
		require.NoError(t, sender.Send(t.Context(), tr.Traces))
	}
	require.NoError(t, sender.Close())
	require.Eventually(t, func() bool {
		m := scrapeMetrics(t, a.ports.Metrics)
		return m["otelcol_processor_mesh_sampling_late_spans"] > 0 && m["otelcol_exporter_sent_spans"] > 0
	}, 15*time.Second, 200*time.Millisecond, "late spans counted and spans exported")

	// Hostile input on A: an OTLP request nesting deeper than decode_guard
	// allows, and an OpenCensus message whose trace id is 3 bytes long.
	conn, err := grpc.NewClient(a.ports.OTLPGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	_, err = ptraceotlp.NewGRPCClient(conn).Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(nested(100)))
	require.ErrorContains(t, err, "nests deeper than 64 levels")
	oc, err := grpc.NewClient(a.ports.OpenCensus, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer oc.Close()
	stream, err := agenttracepb.NewTraceServiceClient(oc).Export(t.Context())
	require.NoError(t, err)
	require.NoError(t, stream.Send(&agenttracepb.ExportTraceServiceRequest{
		Node:  linkerdNode(),
		Spans: []*tracepb.Span{{TraceId: []byte{1, 2, 3}, SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Name: &tracepb.TruncatableString{Value: "/evil"}}},
	}))
	_, err = stream.Recv()
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)

	// B: the backend is down (a free port nobody listens on), retries give
	// up after 500ms (otelcol_exporter_send_failed_spans counts a request
	// when they do) and the sending queue holds 1 MiB: failed sends, then a
	// full queue, then kept spans the exporter refuses. Traces are decided
	// at their fifth span: forced decisions (span_limit).
	b := startGateway(t, freeAddr(t),
		"processors::mesh::sampling::max_spans_per_trace: 4",
		"exporters::otlp_grpc::sending_queue::queue_size: 1048576",
		"exporters::otlp_grpc::sending_queue::batch::min_size: 1024",
		"exporters::otlp_grpc::sending_queue::batch::max_size: 65536",
		"exporters::otlp_grpc::retry_on_failure::initial_interval: 100ms",
		"exporters::otlp_grpc::retry_on_failure::max_interval: 200ms",
		"exporters::otlp_grpc::retry_on_failure::max_elapsed_time: 500ms",
		"processors::mesh::sampling::settle_time: 100ms",
		"processors::mesh::sampling::rules::baseline::probability: 1",
	)
	bs, err := meshgen.NewSender("otlp", b.ports.OTLPGRPC, opts)
	require.NoError(t, err)
	gb := meshgen.New(opts)
	require.Eventually(t, func() bool {
		for range 50 {
			require.NoError(t, bs.Send(t.Context(), gb.Next().Traces)) // the sampler buffers: accepted
		}
		m := scrapeMetrics(t, b.ports.Metrics)
		return m["otelcol_exporter_send_failed_spans"] > 0 && m["otelcol_exporter_enqueue_failed_spans"] > 0 &&
			m["otelcol_processor_mesh_sampling_refused_spans"] > 0 && m["otelcol_processor_mesh_sampling_forced_decisions|reason=\"span_limit\""] > 0
	}, 30*time.Second, 300*time.Millisecond, "export failures, a full queue, refused kept spans, forced decisions")
	require.NoError(t, bs.Close())

	// C: a memory_limiter whose limit (2 MiB) is always exceeded.
	c := startGateway(t, s.addr,
		"processors::memory_limiter::limit_percentage: 0",
		"processors::memory_limiter::spike_limit_percentage: 0",
		"processors::memory_limiter::limit_mib: 2",
		"processors::memory_limiter::spike_limit_mib: 1",
		"processors::memory_limiter::check_interval: 100ms",
	)
	cs, err := meshgen.NewSender("otlp", c.ports.OTLPGRPC, opts)
	require.NoError(t, err)
	gc := meshgen.New(opts)
	require.Eventually(t, func() bool {
		_ = cs.Send(t.Context(), gc.Next().Traces) // refused: an error is expected
		m := scrapeMetrics(t, c.ports.Metrics)
		return m["otelcol_processor_memory_limiter_refused_spans"] > 0 && m["otelcol_receiver_refused_spans"] > 0
	}, 15*time.Second, 100*time.Millisecond, "the memory_limiter refuses")
	require.NoError(t, cs.Close())

	scraped := map[string]bool{}
	for _, col := range []*collector{a, b, c} {
		for n := range scrapeNames(t, col) {
			scraped[n] = true
		}
	}
	var missing []string
	for n, where := range used {
		if !exists(scraped, n) {
			sort.Strings(where)
			missing = append(missing, n+" (used by "+strings.Join(where, ", ")+")")
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "metrics the dashboard or alerts use that no running otelcol-mesh exposes")

	// The values behind the panels are real: the gateway counted what was sent.
	m := scrapeMetrics(t, a.ports.Metrics)
	require.Positive(t, m["otelcol_processor_mesh_malformed_inputs|input=\"http.status_code\""], "malformed status codes counted")
	require.Positive(t, m["otelcol_processor_mesh_canary_spans"])
	require.Positive(t, m["otelcol_processor_mesh_spans|mesh_name=\"istio\""])
	require.Equal(t, 1.0, m[`otelcol_decode_guard_refused_requests|transport="grpc"`], "the nested request counted")
	require.Equal(t, 1.0, m[`otelcol_receiver_opencensus_malformed_messages|reason="invalid"`], "the malformed OpenCensus message counted")
	require.Positive(t, m["otelcol_journal_storage_bytes"], "the queue's journal on disk")
	_, stress := m["otelcol_processor_mesh_sampling_stress_relief"]
	require.True(t, stress, "stress relief gauge exposed")
	t.Logf("%d metric names used by the dashboard and alerts, all exposed; stress relief gauge %v", len(used), m["otelcol_processor_mesh_sampling_stress_relief"])
}
