package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

// The tests in this file run a real Jaeger v2 (github.com/jaegertracing/jaeger
// v1.76.0, built from tools/jaeger by `make jaeger`) and read it with the
// HTTP queries Kiali makes (kiali/kiali tracing/jaeger/http_client.go,
// business/tracing.go, tracing/client.go): the same mesh traffic sent
// straight to one Jaeger and through otelcol-mesh to another must give Kiali
// the same services, traces, span tags and operation names.

var (
	jaegerOnce sync.Once
	jaegerPath string
	jaegerErr  error
)

// jaegerBinary is $JAEGER_BINARY (make test passes .tools/jaeger), or, when
// unset, built once with `make jaeger` (about 9 minutes cold; make skips it
// when .tools/jaeger is up to date). JAEGER_BINARY=skip skips the Jaeger tests.
func jaegerBinary(t *testing.T) string {
	t.Helper()
	v := os.Getenv("JAEGER_BINARY")
	if v == "skip" {
		t.Skip("JAEGER_BINARY=skip: the Jaeger v2 tests are skipped")
	}
	if v == "" {
		jaegerOnce.Do(func() {
			root, err := filepath.Abs(repoPath())
			if err != nil {
				jaegerErr = err
				return
			}
			cmd := exec.Command("make", "--no-print-directory", "jaeger")
			cmd.Dir = root
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			jaegerErr = cmd.Run()
			jaegerPath = filepath.Join(root, ".tools", "jaeger")
		})
		require.NoError(t, jaegerErr, "make jaeger (set JAEGER_BINARY to a built Jaeger v2, or to skip)")
		return jaegerPath
	}
	return v
}

// jaegerBadger are startJaeger arguments that store in Badger in memory
// (ephemeral) instead of the memory store: Jaeger v1.76's memory store reads
// the query tag error=true as a boolean attribute and never matches it, so
// Kiali's error queries need Badger.
var jaegerBadger = []string{
	"--config", "yaml:extensions::jaeger_storage::backends::badgerstore: {badger: {ephemeral: true, ttl: {spans: 1h}}}",
	"--config", "yaml:extensions::jaeger_query::storage::traces: badgerstore",
	"--config", "yaml:exporters::jaeger_storage_exporter::trace_storage: badgerstore",
}

// jaegerPorts are the free loopback ports testdata/jaeger.yaml is rendered with.
type jaegerPorts struct {
	OTLP, Zipkin, QueryHTTP, QueryGRPC, Health string
	MetricsPort                                int
}

// jaegerServer is a running Jaeger v2 process.
type jaegerServer struct {
	*process
	ports jaegerPorts
}

// startJaeger runs Jaeger v2 on testdata/jaeger.yaml (OTLP gRPC and Zipkin
// receivers, memory storage, jaeger_query) with free loopback ports, waits
// until its health check and query API answer, and stops it with SIGTERM at
// the end of the test.
func startJaeger(t *testing.T, args ...string) *jaegerServer {
	t.Helper()
	bin := jaegerBinary(t)
	tmpl := template.Must(template.ParseFiles(filepath.Join("testdata", "jaeger.yaml")))
	dir := t.TempDir()
	for attempt := 1; ; attempt++ {
		p := jaegerPorts{OTLP: freeAddr(t), Zipkin: freeAddr(t), QueryHTTP: freeAddr(t), QueryGRPC: freeAddr(t), Health: freeAddr(t)}
		fmt.Sscan(strings.TrimPrefix(freeAddr(t), "127.0.0.1:"), &p.MetricsPort)
		var cfg bytes.Buffer
		require.NoError(t, tmpl.Execute(&cfg, p))
		path := filepath.Join(dir, fmt.Sprintf("jaeger-%d.yaml", attempt))
		require.NoError(t, os.WriteFile(path, cfg.Bytes(), 0o600))
		j, err := runJaeger(t, bin, append([]string{"--config", path}, args...), p)
		if err == nil {
			return j
		}
		if attempt < 3 && j.portClash() {
			t.Logf("port collision, retrying: %v", err)
			continue
		}
		t.Fatalf("jaeger: %v\n%s", err, j.log)
	}
}

func runJaeger(t *testing.T, bin string, args []string, p jaegerPorts) (*jaegerServer, error) {
	t.Helper()
	pr, err := startProcess(t, "jaeger", bin, args, nil, func() bool {
		return getsOK("http://"+p.Health+"/") && getsOK("http://"+p.QueryHTTP+"/api/services")
	})
	return &jaegerServer{process: pr, ports: p}, err
}

// Jaeger's v1 JSON model (/api/traces), as Kiali decodes it.
type (
	jaegerResponse struct {
		Data   []jaegerTrace `json:"data"`
		Errors []any         `json:"errors"`
	}
	jaegerTrace struct {
		TraceID   string                   `json:"traceID"`
		Spans     []jaegerSpan             `json:"spans"`
		Processes map[string]jaegerProcess `json:"processes"`
	}
	jaegerSpan struct {
		TraceID       string      `json:"traceID"`
		SpanID        string      `json:"spanID"`
		OperationName string      `json:"operationName"`
		References    []jaegerRef `json:"references"`
		ProcessID     string      `json:"processID"`
		Tags          []jaegerTag `json:"tags"`
	}
	jaegerRef struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	}
	jaegerTag struct {
		Key   string `json:"key"`
		Type  string `json:"type"`
		Value any    `json:"value"`
	}
	jaegerProcess struct {
		ServiceName string      `json:"serviceName"`
		Tags        []jaegerTag `json:"tags"`
	}
)

// kialiClient queries a Jaeger's HTTP API as Kiali's legacy HTTP client does.
type kialiClient struct {
	base    string // http://<query>
	cluster string // Kiali's cluster name: the istio.cluster_id tag of every list query
}

func (j *jaegerServer) kiali() kialiClient {
	return kialiClient{base: "http://" + j.ports.QueryHTTP, cluster: "Kubernetes"}
}

func (k kialiClient) get(t *testing.T, path string, q url.Values, into any) {
	t.Helper()
	u := k.base + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", u, body)
	require.NoError(t, json.Unmarshal(body, into), "GET %s", u)
}

// services is GET /api/services.
func (k kialiClient) services(t *testing.T) []string {
	var r struct {
		Data []string `json:"data"`
	}
	k.get(t, "/api/services", nil, &r)
	sort.Strings(r.Data)
	return r.Data
}

// traces is Kiali's prepareQuery + queryTracesHTTP: service <app>.<namespace>
// (namespace_selector: true), start and end in microseconds of whole seconds
// over the last 10 minutes, the tags as JSON (always istio.cluster_id), a limit.
func (k kialiClient) traces(t *testing.T, service string, tags map[string]string, limit int) []jaegerTrace {
	t.Helper()
	all := map[string]string{"istio.cluster_id": k.cluster}
	for key, v := range tags {
		all[key] = v
	}
	return k.query(t, service, all, limit)
}

// errorTraces is Kiali's GetErrorTraces: the traces of service with a span
// tagged error=true over the last 10 minutes (tags {"error":"true"}, no
// cluster tag, no limit).
func (k kialiClient) errorTraces(t *testing.T, service string) []jaegerTrace {
	t.Helper()
	return k.query(t, service, map[string]string{"error": "true"}, 0)
}

// query is Kiali's prepareQuery + queryTracesHTTP with exactly these tags.
func (k kialiClient) query(t *testing.T, service string, tags map[string]string, limit int) []jaegerTrace {
	t.Helper()
	end := time.Now()
	q := url.Values{}
	q.Set("service", service)
	q.Set("start", fmt.Sprint(end.Add(-10*time.Minute).Unix()*time.Second.Microseconds()))
	q.Set("end", fmt.Sprint(end.Unix()*time.Second.Microseconds()))
	if len(tags) > 0 {
		b, err := json.Marshal(tags)
		require.NoError(t, err)
		q.Set("tags", string(b))
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	var r jaegerResponse
	k.get(t, "/api/traces", q, &r)
	require.Empty(t, r.Errors)
	return r.Data
}

// trace is Kiali's GetTraceDetailHTTP: GET /api/traces/<id>.
func (k kialiClient) trace(t *testing.T, id string) jaegerTrace {
	t.Helper()
	var r jaegerResponse
	k.get(t, "/api/traces/"+id, nil, &r)
	require.Len(t, r.Data, 1, "trace %s", id)
	return r.Data[0]
}

// otlpTrace is GET /api/v3/traces/<id>: the trace as OTLP JSON, with its
// resources.
func (k kialiClient) otlpTrace(t *testing.T, id string) ptrace.Traces {
	t.Helper()
	var r struct {
		Result json.RawMessage `json:"result"`
	}
	k.get(t, "/api/v3/traces/"+id, nil, &r)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(r.Result)
	require.NoError(t, err, "trace %s", id)
	return td
}

// storedSpans counts the traces and spans stored for a service over the last
// hour, without Kiali's tag filter: for waiting until everything arrived.
func (k kialiClient) storedSpans(t *testing.T, service string) (traces, spans int) {
	t.Helper()
	q := url.Values{}
	q.Set("service", service)
	q.Set("start", fmt.Sprint(time.Now().Add(-time.Hour).UnixMicro()))
	q.Set("end", fmt.Sprint(time.Now().Add(time.Hour).UnixMicro()))
	q.Set("limit", "10000")
	var r jaegerResponse
	k.get(t, "/api/traces", q, &r)
	for _, tr := range r.Data {
		spans += len(tr.Spans)
	}
	return len(r.Data), spans
}

// normTraceID writes a trace id as 32 hex digits (Jaeger's v1 JSON drops
// leading zeros).
func normTraceID(id string) string {
	return strings.Repeat("0", max(0, 32-len(id))) + id
}

// kialiTracesTags are the span tags Kiali reads in its trace and span views
// (besides istio.* and error, compared separately).
var kialiTracesTags = []string{"node_id", "upstream_cluster", "http.status_code", "http.url", "http.method",
	"response_flags", "component", "peer.address", "hostname"}

// isKialiErrorTag is Kiali's error test on a span tag (frontend TracingHelper:
// key error, value true or "true").
func isKialiErrorTag(tag jaegerTag) bool {
	return tag.Key == "error" && (tag.Value == true || tag.Value == "true")
}

func hasKialiError(span jaegerSpan) bool {
	return slices.ContainsFunc(span.Tags, isKialiErrorTag)
}

// kialiView is what Kiali shows for one service <app>.<namespace> from one
// Jaeger: the traces its list query returns, the spans its service view keeps
// (process = the service, operation name prefixed by <app>.<namespace>), the
// spans its workload view keeps (node_id <pod>.<namespace>, the pod named <app>-…), and the
// error traces (a span of the service with error=true).
type kialiView struct {
	traces, errorTraces   map[string]bool
	serviceSpans, wkSpans map[string]bool
}

func viewOf(t *testing.T, k kialiClient, service string) kialiView {
	t.Helper()
	app, ns, ok := strings.Cut(service, ".")
	require.True(t, ok, "%s is not <app>.<namespace>", service)
	return viewAs(t, k, service, app, ns)
}

// viewAs is Kiali's view of app in namespace ns, looked up in Jaeger by the
// service name lookup (<app>.<namespace>, or <app> with namespace_selector:
// false).
func viewAs(t *testing.T, k kialiClient, service, app, ns string) kialiView {
	t.Helper()
	res := k.traces(t, service, nil, 100)
	require.Less(t, len(res), 100, "%s: the query hit its limit", service)
	v := kialiView{traces: map[string]bool{}, errorTraces: map[string]bool{}, serviceSpans: map[string]bool{}, wkSpans: map[string]bool{}}
	for _, tr := range res {
		id := normTraceID(tr.TraceID)
		v.traces[id] = true
		for _, span := range tr.Spans {
			if tr.Processes[span.ProcessID].ServiceName != service {
				continue
			}
			if strings.HasPrefix(span.OperationName, app+"."+ns) {
				v.serviceSpans[span.SpanID] = true
			}
			if hasKialiError(span) {
				v.errorTraces[id] = true
			}
			for _, tag := range span.Tags {
				if s, ok := tag.Value.(string); ok && tag.Key == "node_id" {
					parts := strings.Split(s, "~")
					if len(parts) >= 3 && strings.HasPrefix(parts[2], app+"-") && strings.HasSuffix(parts[2], ns) {
						v.wkSpans[span.SpanID] = true
					}
				}
			}
		}
	}
	return v
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// kialiTraffic is Istio bookinfo traffic sent twice: straight to the raw
// Jaeger and to otelcol-mesh, over OTLP and over Zipkin.
type kialiTraffic struct {
	sent  map[string]meshgen.Trace // by trace id
	spans int
}

func sendKialiTraffic(t *testing.T, raw *jaegerServer, c *collector, otlpTraces, zipkinTraces int) kialiTraffic {
	t.Helper()
	kt := kialiTraffic{sent: map[string]meshgen.Trace{}}
	for _, f := range []struct {
		protocol         string
		n                int
		rawAddr, colAddr string
		seed             uint64
	}{
		{"otlp", otlpTraces, raw.ports.OTLP, c.ports.OTLPGRPC, 31},
		{"zipkin", zipkinTraces, raw.ports.Zipkin, c.ports.Zipkin, 32},
	} {
		opts := meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.15, FlagRate: 0.1, CanaryShare: 0.1, Seed: f.seed}
		toRaw, err := meshgen.NewSender(f.protocol, f.rawAddr, opts)
		require.NoError(t, err)
		toMesh, err := meshgen.NewSender(f.protocol, f.colAddr, opts)
		require.NoError(t, err)
		g := meshgen.New(opts)
		for range f.n {
			tr := g.Next()
			id := tr.ID.String()
			kt.sent[id] = tr
			kt.spans += tr.Traces.SpanCount()
			require.NoError(t, toRaw.Send(t.Context(), tr.Traces))
			require.NoError(t, toMesh.Send(t.Context(), tr.Traces))
		}
		require.NoError(t, toRaw.Close())
		require.NoError(t, toMesh.Close())
	}
	return kt
}

// gatewayService is in every bookinfo trace: counting its traces counts all.
const gatewayService = "istio-ingressgateway.istio-system"

// waitStored waits until k holds spans spans (and traces traces, unless
// negative), then for the next whole second, so that Kiali's end time (whole
// seconds) covers them. It returns the number of traces.
func waitStored(t *testing.T, k kialiClient, traces, spans int) int {
	t.Helper()
	var gotT, gotS int
	require.Eventually(t, func() bool {
		gotT, gotS = k.storedSpans(t, gatewayService)
		return (traces < 0 || gotT == traces) && gotS == spans
	}, 30*time.Second, 100*time.Millisecond, "stored %d traces / %d spans, want %d / %d", gotT, gotS, traces, spans)
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	return gotT
}

// compareKiali checks that Kiali, reading the mesh Jaeger, finds what it finds
// in the raw Jaeger: the same services, for each service the same traces
// (with sampling: only kept traces, but every error trace), the same spans in
// its service and workload views, and every span with the same operation
// name, process service name, parent and Kiali tags; and through
// /api/v3/traces the proxy's resource attributes kept, the workload identity
// added, and status ERROR on every span Kiali shows as an error.
func compareKiali(t *testing.T, raw, mesh kialiClient, kt kialiTraffic, sampled bool) {
	t.Helper()
	services := raw.services(t)
	require.Equal(t, []string{"details.bookinfo", gatewayService, "productpage.bookinfo", "ratings.bookinfo", "reviews.bookinfo"}, services)
	assert.Equal(t, services, mesh.services(t), "GET /api/services")

	// Kiali's client start-up probe: the first service without "istio" or
	// "jaeger" in its name, with the cluster tag; no trace disables the tag.
	for _, k := range []kialiClient{raw, mesh} {
		require.NotEmpty(t, k.traces(t, "details.bookinfo", nil, 100), "%s: Kiali would disable istio.cluster_id", k.base)
	}

	kept := map[string]bool{}
	errorTraces, serviceSpans := 0, 0
	for _, svc := range services {
		r, m := viewOf(t, raw, svc), viewOf(t, mesh, svc)
		require.NotEmpty(t, r.traces, svc)
		if sampled {
			for id := range m.traces {
				assert.True(t, r.traces[id], "%s: trace %s only through otelcol-mesh", svc, id)
			}
			for id := range r.errorTraces {
				assert.True(t, m.traces[id], "%s: error trace %s dropped by sampling", svc, id)
			}
		} else {
			assert.Equal(t, sortedKeys(r.traces), sortedKeys(m.traces), "%s: traces", svc)
		}
		for id := range m.traces {
			kept[id] = true
		}
		assert.Equal(t, sortedKeys(r.errorTraces), sortedKeys(m.errorTraces), "%s: error traces", svc)
		// The span views, restricted to the traces otelcol-mesh passed on.
		rs, rw := map[string]bool{}, map[string]bool{}
		for _, tr := range raw.traces(t, svc, nil, 100) {
			if !m.traces[normTraceID(tr.TraceID)] {
				continue
			}
			for _, span := range tr.Spans {
				rs[span.SpanID], rw[span.SpanID] = r.serviceSpans[span.SpanID], r.wkSpans[span.SpanID]
			}
		}
		for _, set := range []map[string]bool{rs, rw} {
			for id, in := range set {
				if !in {
					delete(set, id)
				}
			}
		}
		assert.Equal(t, sortedKeys(rs), sortedKeys(m.serviceSpans), "%s: spans in Kiali's service view (operation name prefix %s)", svc, svc)
		assert.Equal(t, sortedKeys(rw), sortedKeys(m.wkSpans), "%s: spans in Kiali's workload view (node_id)", svc)
		errorTraces += len(m.errorTraces)
		serviceSpans += len(m.serviceSpans)
		t.Logf("%-36s traces raw %3d mesh %3d | error traces %2d | service-view spans %3d | workload-view spans %3d",
			svc, len(r.traces), len(m.traces), len(m.errorTraces), len(m.serviceSpans), len(m.wkSpans))
	}
	assert.Positive(t, errorTraces)
	assert.Positive(t, serviceSpans)
	if sampled {
		assert.Less(t, len(kept), len(kt.sent), "the sampler dropped some traces")
		for id, tr := range kt.sent {
			if tr.Error || tr.Failure {
				assert.True(t, kept[id], "trace %s with an error or a proxy failure is in Kiali's lists", id)
			}
		}
	} else {
		assert.Len(t, kept, len(kt.sent))
	}

	// Trace details (Kiali's span view and trace details) and resources.
	extra := map[string]int{}
	statusErrors, kialiErrors := 0, 0
	for id := range kept {
		rt, mt := raw.trace(t, id), mesh.trace(t, id)
		require.Len(t, mt.Spans, len(rt.Spans), "trace %s arrives whole", id)
		mspans := map[string]jaegerSpan{}
		for _, s := range mt.Spans {
			mspans[s.SpanID] = s
		}
		for _, rspan := range rt.Spans {
			mspan, ok := mspans[rspan.SpanID]
			require.True(t, ok, "span %s of trace %s", rspan.SpanID, id)
			where := fmt.Sprintf("trace %s span %s (%s)", id, rspan.SpanID, rspan.OperationName)
			assert.Equal(t, rspan.OperationName, mspan.OperationName, where)
			assert.Equal(t, rt.Processes[rspan.ProcessID].ServiceName, mt.Processes[mspan.ProcessID].ServiceName, where)
			assert.Equal(t, rspan.References, mspan.References, where)
			for _, key := range kialiTracesTags {
				assert.Equal(t, tagsNamed(rspan.Tags, key), tagsNamed(mspan.Tags, key), "%s: tag %s", where, key)
			}
			for _, tag := range rspan.Tags {
				if strings.HasPrefix(tag.Key, "istio.") {
					assert.Equal(t, []jaegerTag{tag}, tagsNamed(mspan.Tags, tag.Key), where)
				}
			}
			assert.Equal(t, hasKialiError(rspan), hasKialiError(mspan), "%s: Kiali's error flag", where)
			if hasKialiError(rspan) {
				kialiErrors++
			}
			for _, tag := range mspan.Tags {
				if len(tagsNamed(rspan.Tags, tag.Key)) != len(tagsNamed(mspan.Tags, tag.Key)) {
					extra[tag.Key+" ("+tag.Type+")"]++
				}
			}
		}
		rres, mres := resourcesBySpan(raw.otlpTrace(t, id)), resourcesBySpan(mesh.otlpTrace(t, id))
		for sid, r := range rres {
			m := mres[sid]
			require.NotNil(t, m.res, "span %s in /api/v3/traces/%s", sid, id)
			for key, v := range r.res {
				assert.Equal(t, v, m.res[key], "span %s: resource attribute %s kept", sid, key)
			}
			svc, _ := r.res["service.name"].(string)
			_, ns, _ := strings.Cut(svc, ".")
			assert.Equal(t, "istio", m.res["mesh.name"], sid)
			assert.Equal(t, ns, m.res["service.namespace"], sid)
			assert.Equal(t, ns, m.res["k8s.namespace.name"], sid)
			if m.status == ptrace.StatusCodeError {
				statusErrors++
			}
			if hasKialiError(rspanByID(rt, sid)) {
				assert.Equal(t, ptrace.StatusCodeError, m.status, "span %s: status ERROR, which error=true matches in Jaeger v2's storage", sid)
			}
		}
	}
	assert.Positive(t, kialiErrors)
	t.Logf("%d traces compared span by span; %d spans Kiali shows as errors, %d status-ERROR spans through otelcol-mesh; tags only through otelcol-mesh (spans): %v",
		len(kept), kialiErrors, statusErrors, extra)
}

func tagsNamed(tags []jaegerTag, key string) []jaegerTag {
	var out []jaegerTag
	for _, tag := range tags {
		if tag.Key == key {
			out = append(out, tag)
		}
	}
	return out
}

func rspanByID(tr jaegerTrace, id string) jaegerSpan {
	for _, s := range tr.Spans {
		if s.SpanID == id {
			return s
		}
	}
	return jaegerSpan{}
}

type spanResource struct {
	res    map[string]any
	status ptrace.StatusCode
}

func resourcesBySpan(td ptrace.Traces) map[string]spanResource {
	out := map[string]spanResource{}
	for _, rs := range td.ResourceSpans().All() {
		res := rs.Resource().Attributes().AsRaw()
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				out[span.SpanID().String()] = spanResource{res: res, status: span.Status().Code()}
			}
		}
	}
	return out
}

// TestKialiOnJaegerDefaultConfig: Istio traffic over OTLP and Zipkin through
// the shipped configs/local.yaml (the default mesh processor), exporting to a
// real Jaeger v2, and the same traffic straight to a second Jaeger: Kiali's
// queries return the same from both.
func TestKialiOnJaegerDefaultConfig(t *testing.T) {
	raw, mesh := startJaeger(t), startJaeger(t)
	c := startLocalTo(t, mesh)
	kt := sendKialiTraffic(t, raw, c, 30, 15)
	waitStored(t, raw.kiali(), len(kt.sent), kt.spans)
	waitStored(t, mesh.kiali(), len(kt.sent), kt.spans)
	compareKiali(t, raw.kiali(), mesh.kiali(), kt, false)
}

// startLocalTo runs the shipped configs/local.yaml (default mesh processor)
// on free loopback ports, exporting over OTLP/gRPC to j, with overrides.
func startLocalTo(t *testing.T, j *jaegerServer, overrides ...string) *collector {
	t.Helper()
	return launch(t, j.ports.OTLP, func(p ports) ([]string, []string) {
		return nil, shippedArgs("local.yaml", p, append([]string{
			"extensions::zpages::endpoint: " + freeAddr(t),
			"exporters::otlp_grpc: {endpoint: " + j.ports.OTLP + ", tls: {insecure: true}}",
			"service::pipelines::traces::exporters: [otlp_grpc]",
		}, overrides...)...)
	})
}

// TestKialiOnJaegerGatewayConfig: the same through the shipped
// configs/gateway.yaml (tail sampling, 10% baseline): Kiali finds in the mesh
// Jaeger a subset of the raw traces that holds every error trace, each kept
// trace whole and as Kiali reads the raw one.
func TestKialiOnJaegerGatewayConfig(t *testing.T) {
	raw, mesh := startJaeger(t), startJaeger(t)
	kt := throughGateway(t, raw, mesh)
	compareKiali(t, raw.kiali(), mesh.kiali(), kt, true)
}

// throughGateway sends the Kiali traffic straight to raw and through the
// shipped configs/gateway.yaml to mesh, and waits until the gateway decided
// every trace and mesh stored every kept span.
func throughGateway(t *testing.T, raw, mesh *jaegerServer) kialiTraffic {
	t.Helper()
	c := startGateway(t, mesh.ports.OTLP)
	kt := sendKialiTraffic(t, raw, c, 60, 20)
	waitStored(t, raw.kiali(), len(kt.sent), kt.spans)

	var m map[string]float64
	require.Eventually(t, func() bool {
		m = scrapeMetrics(t, c.ports.Metrics)
		return m["otelcol_processor_mesh_sampling_decisions"] == float64(len(kt.sent)) &&
			m["otelcol_processor_mesh_sampling_traces_buffered"] == 0 &&
			m[`otelcol_exporter_sent_spans|exporter="otlp_grpc"`] == m[`otelcol_processor_outgoing_items|processor="mesh"`]
	}, 45*time.Second, 200*time.Millisecond, "every trace decided and exported: %v", m)
	kept := m[`otelcol_processor_outgoing_items|processor="mesh"`]
	require.Positive(t, kept)
	keptTraces := waitStored(t, mesh.kiali(), -1, int(kept))
	t.Logf("gateway kept %d of %d traces (%d spans of %d)", keptTraces, len(kt.sent), int(kept), kt.spans)
	return kt
}

// TestKialiErrorQueriesOnJaegerBadger runs Kiali's own error queries (its
// GetErrorTraces, tags {"error":"true"}, and the trace list filtered by
// error=true and the cluster tag) against Jaegers storing in Badger, for the
// default and the gateway config: through otelcol-mesh they count what they
// count on the raw spans, and what Kiali's trace list shows as error traces.
func TestKialiErrorQueriesOnJaegerBadger(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(t *testing.T, raw, mesh *jaegerServer) kialiTraffic
	}{
		{"default", func(t *testing.T, raw, mesh *jaegerServer) kialiTraffic {
			kt := sendKialiTraffic(t, raw, startLocalTo(t, mesh), 30, 15)
			waitStored(t, raw.kiali(), len(kt.sent), kt.spans)
			waitStored(t, mesh.kiali(), len(kt.sent), kt.spans)
			return kt
		}},
		{"gateway", throughGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, mesh := startJaeger(t, jaegerBadger...), startJaeger(t, jaegerBadger...)
			tc.send(t, raw, mesh)
			rk, mk := raw.kiali(), mesh.kiali()
			total := 0
			for _, svc := range rk.services(t) {
				want := viewOf(t, rk, svc).errorTraces
				ids := func(trs []jaegerTrace) []string {
					out := []string{}
					for _, tr := range trs {
						out = append(out, normTraceID(tr.TraceID))
					}
					sort.Strings(out)
					return out
				}
				assert.Equal(t, sortedKeys(want), ids(rk.errorTraces(t, svc)), "%s: GetErrorTraces on the raw spans", svc)
				assert.Equal(t, sortedKeys(want), ids(mk.errorTraces(t, svc)), "%s: GetErrorTraces through otelcol-mesh", svc)
				withCluster := map[string]string{"error": "true"}
				assert.Equal(t, sortedKeys(want), ids(rk.traces(t, svc, withCluster, 100)), "%s: error list, raw", svc)
				assert.Equal(t, sortedKeys(want), ids(mk.traces(t, svc, withCluster, 100)), "%s: error list through otelcol-mesh", svc)
				t.Logf("%-36s Kiali error traces: %d", svc, len(want))
				total += len(want)
			}
			assert.Positive(t, total)
		})
	}
}

// TestKialiOnJaegerSemconvNaming runs the same traffic with the mesh
// processor's naming: semconv and shows what the README says Kiali then
// needs and loses: no service <app>.<namespace> any more, so Kiali's default
// lookup (namespace_selector: true) finds nothing; with namespace_selector:
// false (lookup by the bare app) it finds the same traces, error traces and
// workload spans (node_id stays), but its service view, which keeps spans
// named <app>.<namespace>…, is empty.
func TestKialiOnJaegerSemconvNaming(t *testing.T) {
	raw, mesh := startJaeger(t), startJaeger(t)
	c := startLocalTo(t, mesh, "processors::mesh::naming: semconv")
	kt := sendKialiTraffic(t, raw, c, 10, 5)
	rk, mk := raw.kiali(), mesh.kiali()
	waitStored(t, rk, len(kt.sent), kt.spans)
	require.Eventually(t, func() bool {
		_, spans := mk.storedSpans(t, "istio-ingressgateway")
		return spans == kt.spans
	}, 30*time.Second, 100*time.Millisecond)
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))

	assert.Equal(t, []string{"details", "istio-ingressgateway", "productpage", "ratings", "reviews"}, mk.services(t))
	for _, svc := range rk.services(t) {
		app, ns, _ := strings.Cut(svc, ".")
		assert.Empty(t, mk.traces(t, svc, nil, 100), "%s: Kiali's default lookup", svc)
		r, m := viewOf(t, rk, svc), viewAs(t, mk, app, app, ns)
		assert.Equal(t, sortedKeys(r.traces), sortedKeys(m.traces), "%s: namespace_selector: false finds the traces", svc)
		assert.Equal(t, sortedKeys(r.errorTraces), sortedKeys(m.errorTraces), "%s: error traces", svc)
		assert.Equal(t, sortedKeys(r.wkSpans), sortedKeys(m.wkSpans), "%s: workload view (node_id)", svc)
		assert.Empty(t, m.serviceSpans, "%s: no span named %s… any more", svc, svc)
		if svc == "reviews.bookinfo" {
			assert.NotEmpty(t, r.serviceSpans, "the raw service view")
		}
	}
}
