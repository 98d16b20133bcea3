package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"contrib.go.opencensus.io/exporter/ocagent"
	commonpb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/common/v1"
	agenttracepb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/trace/v1"
	tracepb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opencensus.io/trace"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

// openCensusConfig feeds the opencensus receiver into two pipelines that end
// in the same sink: traces/raw shows what the receiver converts, traces/mesh
// what the mesh processor makes of it. A resource tag (e2e.pipeline) tells
// the copies apart.
const openCensusConfig = `
receivers:
  opencensus:
    endpoint: {{.OpenCensus}}
processors:
  mesh:
  resource/raw:
    attributes:
      - {key: e2e.pipeline, value: raw, action: upsert}
  resource/mesh:
    attributes:
      - {key: e2e.pipeline, value: mesh, action: upsert}
service:
  pipelines:
    traces/raw:
      receivers: [opencensus]
      processors: [resource/raw]
      exporters: [otlp_grpc]
    traces/mesh:
      receivers: [opencensus]
      processors: [mesh, resource/mesh]
      exporters: [otlp_grpc]
`

const (
	linkerdPod       = "web-7c9f8d6b5-x2x8q"
	defaultNodeHost  = "ocagent-default-node"
	linkerdAuthority = "books.booksapp.svc.cluster.local:7002"
)

// linkerdNode is the Node a Linkerd 2.17 proxy sends (linkerd2-proxy
// app/src/oc_collector.rs): service name, process identifier, the pod's labels
// as attributes, and no library info.
func linkerdNode() *commonpb.Node {
	return &commonpb.Node{
		Identifier: &commonpb.ProcessIdentifier{
			HostName:       linkerdPod,
			Pid:            1,
			StartTimestamp: &timestamppb.Timestamp{Seconds: 1714550000, Nanos: 500_000_000},
		},
		ServiceInfo: &commonpb.ServiceInfo{Name: "linkerd-proxy"},
		Attributes: map[string]string{
			"app":                         "web",
			"version":                     "v2",
			"pod-template-hash":           "7c9f8d6b5",
			"linkerd.io/proxy-deployment": "web",
			"linkerd.io/workload-ns":      "booksapp",
			"linkerd.io/control-plane-ns": "linkerd",
		},
	}
}

// linkerdResource is what the receiver makes of linkerdNode.
var linkerdResource = map[string]any{
	"service.name":                "linkerd-proxy",
	"host.name":                   linkerdPod,
	"process.pid":                 int64(1),
	"process.start_timestamp":     int64(1714550000),
	"app":                         "web",
	"version":                     "v2",
	"pod-template-hash":           "7c9f8d6b5",
	"linkerd.io/proxy-deployment": "web",
	"linkerd.io/workload-ns":      "booksapp",
	"linkerd.io/control-plane-ns": "linkerd",
	"e2e.pipeline":                "raw",
}

// linkerdLabels are the span attributes of a Linkerd ≤2.17 proxy: all strings.
func linkerdLabels(direction, path string) []trace.Attribute {
	return []trace.Attribute{
		trace.StringAttribute("direction", direction),
		trace.StringAttribute("http.method", "GET"),
		trace.StringAttribute("http.path", path),
		trace.StringAttribute("http.authority", linkerdAuthority),
		trace.StringAttribute("http.status_code", "200"),
	}
}

// startOCExporter starts the OpenCensus agent exporter against addr and
// registers it with go.opencensus.io/trace until the test ends. Its own Node
// (first message on the stream) has host name defaultNodeHost.
func startOCExporter(t *testing.T, addr, serviceName string) *ocagent.Exporter {
	t.Helper()
	t.Setenv("HOSTNAME", defaultNodeHost)
	t.Setenv("OC_RESOURCE_TYPE", "")
	t.Setenv("OC_RESOURCE_LABELS", "")
	exp, err := ocagent.NewExporter(ocagent.WithInsecure(), ocagent.WithAddress(addr),
		ocagent.WithServiceName(serviceName), ocagent.WithReconnectionPeriod(200*time.Millisecond))
	require.NoError(t, err)
	trace.RegisterExporter(exp)
	t.Cleanup(func() {
		trace.UnregisterExporter(exp)
		_ = exp.Stop()
	})
	return exp
}

// switchToLinkerdNode sends, through the exporter's own stream, a message
// with the Linkerd Node and one inbound server span built as the proxy builds
// it. Spans the exporter sends afterwards carry no Node and inherit this one.
func switchToLinkerdNode(t *testing.T, exp *ocagent.Exporter, traceID trace.TraceID, spanID, parentID trace.SpanID) {
	t.Helper()
	now := time.Now()
	inbound := &tracepb.Span{
		TraceId:      traceID[:],
		SpanId:       spanID[:],
		ParentSpanId: parentID[:],
		Name:         &tracepb.TruncatableString{Value: "/books/12"},
		Kind:         tracepb.Span_SERVER,
		StartTime:    timestamppb.New(now.Add(-30 * time.Millisecond)),
		EndTime:      timestamppb.New(now),
		Attributes: &tracepb.Span_Attributes{AttributeMap: map[string]*tracepb.AttributeValue{
			"direction":        ocString("inbound"),
			"http.method":      ocString("GET"),
			"http.path":        ocString("/books/12"),
			"http.authority":   ocString(linkerdAuthority),
			"http.status_code": ocString("200"),
		}},
	}
	req := &agenttracepb.ExportTraceServiceRequest{Node: linkerdNode(), Spans: []*tracepb.Span{inbound}}
	// The exporter connects in the background; it refuses until connected.
	require.Eventually(t, func() bool { return exp.ExportTraceServiceRequest(req) == nil }, 10*time.Second, 50*time.Millisecond)
}

func ocString(v string) *tracepb.AttributeValue {
	return &tracepb.AttributeValue{Value: &tracepb.AttributeValue_StringValue{StringValue: &tracepb.TruncatableString{Value: v}}}
}

// sendOutboundHop records, with go.opencensus.io/trace, the two spans a
// Linkerd proxy emits for an outbound request of the app (outbound server,
// then endpoint client) and flushes them to the agent.
func sendOutboundHop(t *testing.T, exp *ocagent.Exporter, parent trace.SpanContext, path string) (server, client trace.SpanContext) {
	t.Helper()
	ctx, srv := trace.StartSpanWithRemoteParent(context.Background(), path, parent,
		trace.WithSpanKind(trace.SpanKindServer), trace.WithSampler(trace.AlwaysSample()))
	srv.AddAttributes(linkerdLabels("outbound", path)...)
	_, cli := trace.StartSpan(ctx, path, trace.WithSpanKind(trace.SpanKindClient))
	cli.AddAttributes(linkerdLabels("outbound", path)...)
	cli.End()
	srv.End()
	exp.Flush()
	return srv.SpanContext(), cli.SpanContext()
}

// rawSpans returns the spans of the traces/raw pipeline by name.
func rawSpans(spans []receivedSpan) map[string][]receivedSpan {
	out := map[string][]receivedSpan{}
	for _, s := range spans {
		if v, _ := s.Resource.Resource().Attributes().Get("e2e.pipeline"); v.Str() == "raw" {
			out[s.Span.Name()] = append(out[s.Span.Name()], s)
		}
	}
	return out
}

// meshSpansByID returns the spans of the traces/mesh pipeline by span id.
func meshSpansByID(spans []receivedSpan) map[pcommon.SpanID]receivedSpan {
	out := map[pcommon.SpanID]receivedSpan{}
	for _, s := range spans {
		if v, _ := s.Resource.Resource().Attributes().Get("e2e.pipeline"); v.Str() == "mesh" {
			out[s.Span.SpanID()] = s
		}
	}
	return out
}

// linkerdMeshResource is what the mesh processor makes of linkerdResource:
// Linkerd detected, the pod and namespace from host.name and the workload-ns
// label, the app label promoted over the linkerd-proxy placeholder.
var linkerdMeshResource = map[string]any{
	"service.name":                "web",
	"mesh.service.name.original":  "linkerd-proxy",
	"service.namespace":           "booksapp",
	"service.version":             "v2",
	"host.name":                   linkerdPod,
	"process.pid":                 int64(1),
	"process.start_timestamp":     int64(1714550000),
	"app":                         "web",
	"version":                     "v2",
	"pod-template-hash":           "7c9f8d6b5",
	"linkerd.io/proxy-deployment": "web",
	"linkerd.io/workload-ns":      "booksapp",
	"linkerd.io/control-plane-ns": "linkerd",
	"mesh.name":                   "linkerd",
	"mesh.proxy":                  "linkerd2-proxy",
	"mesh.proxy.mode":             "sidecar",
	"k8s.pod.name":                linkerdPod,
	"k8s.namespace.name":          "booksapp",
	"e2e.pipeline":                "mesh",
}

func spanByKind(t *testing.T, spans []receivedSpan, kind ptrace.SpanKind, direction string) receivedSpan {
	t.Helper()
	for _, s := range spans {
		if d, _ := s.Span.Attributes().Get("direction"); s.Span.Kind() == kind && d.Str() == direction {
			return s
		}
	}
	t.Fatalf("no %s span with direction=%s among %d", kind, direction, len(spans))
	return receivedSpan{}
}

func TestOpenCensusLinkerdSpansArrive(t *testing.T) {
	s := startSink(t)
	c := startCollector(t, openCensusConfig, s.addr)
	exp := startOCExporter(t, c.ports.OpenCensus, "linkerd-proxy")

	appSpan := trace.SpanContext{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
	}
	inboundID := trace.SpanID{0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8}
	switchToLinkerdNode(t, exp, appSpan.TraceID, inboundID, trace.SpanID{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88})
	srvCtx, cliCtx := sendOutboundHop(t, exp, appSpan, "/authors/3?full=1")

	// 3 spans, each through both pipelines.
	spans := rawSpans(s.waitForSpans(t, 6, 20*time.Second))
	require.Len(t, spans["/books/12"], 1)
	require.Len(t, spans["/authors/3?full=1"], 2)

	inbound := spans["/books/12"][0]
	outSrv := spanByKind(t, spans["/authors/3?full=1"], ptrace.SpanKindServer, "outbound")
	outCli := spanByKind(t, spans["/authors/3?full=1"], ptrace.SpanKindClient, "outbound")

	for name, sp := range map[string]receivedSpan{"inbound server": inbound, "outbound server": outSrv, "outbound client": outCli} {
		// The first two came after the exporter's own Node: they inherit the
		// Linkerd Node sent with the inbound span, as a Linkerd proxy's do.
		assert.Equal(t, linkerdResource, sp.Resource.Resource().Attributes().AsRaw(), "%s resource", name)
		assert.Equal(t, pcommon.TraceID(appSpan.TraceID), sp.Span.TraceID(), "%s trace id", name)
		assert.LessOrEqual(t, sp.Span.StartTimestamp(), sp.Span.EndTimestamp(), name)
		assert.NotZero(t, sp.Span.StartTimestamp(), name)
		assert.Equal(t, ptrace.StatusCodeUnset, sp.Span.Status().Code(), name)
	}

	assert.Equal(t, map[string]any{
		"direction": "inbound", "http.method": "GET", "http.path": "/books/12",
		"http.authority": linkerdAuthority, "http.status_code": "200",
	}, inbound.Span.Attributes().AsRaw())
	assert.Equal(t, ptrace.SpanKindServer, inbound.Span.Kind())
	assert.Equal(t, pcommon.SpanID(inboundID), inbound.Span.SpanID())

	wantOutbound := map[string]any{
		"direction": "outbound", "http.method": "GET", "http.path": "/authors/3?full=1",
		"http.authority": linkerdAuthority, "http.status_code": "200",
	}
	for _, sp := range []receivedSpan{outSrv, outCli} {
		assert.Equal(t, wantOutbound, sp.Span.Attributes().AsRaw())
		v, _ := sp.Span.Attributes().Get("http.status_code")
		assert.Equal(t, pcommon.ValueTypeStr, v.Type(), "Linkerd ≤2.17 sends the status code as a string")
	}
	assert.Equal(t, pcommon.SpanID(srvCtx.SpanID), outSrv.Span.SpanID())
	assert.Equal(t, pcommon.SpanID(appSpan.SpanID), outSrv.Span.ParentSpanID(), "remote parent: the app's span")
	assert.Equal(t, pcommon.SpanID(cliCtx.SpanID), outCli.Span.SpanID())
	assert.Equal(t, pcommon.SpanID(srvCtx.SpanID), outCli.Span.ParentSpanID())

	// The traces/mesh copies: normalized Linkerd spans.
	mesh := meshSpansByID(s.allSpans())
	require.Len(t, mesh, 3)
	for name, raw := range map[string]receivedSpan{"inbound server": inbound, "outbound server": outSrv, "outbound client": outCli} {
		sp, ok := mesh[raw.Span.SpanID()]
		require.True(t, ok, "%s: no traces/mesh copy", name)
		assert.Equal(t, linkerdMeshResource, sp.Resource.Resource().Attributes().AsRaw(), "%s resource", name)
		assert.Equal(t, "GET", sp.Span.Name(), "%s: the method, not the raw path", name)
		assert.Equal(t, raw.Span.Kind(), sp.Span.Kind(), name)
		assert.Equal(t, raw.Span.TraceID(), sp.Span.TraceID(), name)
		assert.Equal(t, raw.Span.ParentSpanID(), sp.Span.ParentSpanID(), name)
		assert.Equal(t, raw.Span.StartTimestamp(), sp.Span.StartTimestamp(), name)
		assert.Equal(t, raw.Span.EndTimestamp(), sp.Span.EndTimestamp(), name)
		assert.Equal(t, ptrace.StatusCodeUnset, sp.Span.Status().Code(), "%s: a 200 stays unset", name)
	}
	// Semantic-convention keys next to the proxy's own (kept by default).
	assert.Equal(t, map[string]any{
		"direction": "inbound", "http.method": "GET", "http.path": "/books/12",
		"http.authority": linkerdAuthority, "http.status_code": "200",
		"http.request.method":       "GET",
		"http.response.status_code": int64(200),
		"url.path":                  "/books/12",
		"server.address":            "books.booksapp.svc.cluster.local",
		"server.port":               int64(7002),
		"mesh.direction":            "inbound",
		// Inbound: the destination is this workload.
		"mesh.destination.service":   "web",
		"mesh.destination.namespace": "booksapp",
		"mesh.destination.port":      int64(7002),
		"mesh.destination.subset":    "v2",
		"mesh.span.original_name":    "/books/12",
		"mesh.canary":                false,
	}, mesh[inbound.Span.SpanID()].Span.Attributes().AsRaw())
	for _, raw := range []receivedSpan{outSrv, outCli} {
		assert.Equal(t, map[string]any{
			"direction": "outbound", "http.method": "GET", "http.path": "/authors/3?full=1",
			"http.authority": linkerdAuthority, "http.status_code": "200",
			"http.request.method":       "GET",
			"http.response.status_code": int64(200),
			"url.path":                  "/authors/3",
			"url.query":                 "full=1",
			"server.address":            "books.booksapp.svc.cluster.local",
			"server.port":               int64(7002),
			"mesh.direction":            "outbound",
			// Outbound: the destination is the authority's service.
			"mesh.destination.service":   "books",
			"mesh.destination.namespace": "booksapp",
			"mesh.destination.port":      int64(7002),
			"mesh.span.original_name":    "/authors/3?full=1",
			"mesh.canary":                false,
		}, mesh[raw.Span.SpanID()].Span.Attributes().AsRaw(), raw.Span.Kind().String())
	}

	require.Eventually(t, func() bool {
		m := scrapeMetrics(t, c.ports.Metrics)
		return m[`otelcol_receiver_accepted_spans|receiver="opencensus"`] == 3 &&
			m[`otelcol_receiver_refused_spans|receiver="opencensus"`] == 0
	}, 10*time.Second, 100*time.Millisecond, "accepted span metrics")
}

// TestOpenCensusApplicationSpans sends an OpenCensus Go application's spans:
// the exporter's own Node (library info) and typed attributes, annotations,
// status and links.
func TestOpenCensusApplicationSpans(t *testing.T) {
	s := startSink(t)
	c := startCollector(t, openCensusConfig, s.addr)
	exp := startOCExporter(t, c.ports.OpenCensus, "checkout")

	ctx, span := trace.StartSpan(context.Background(), "charge", trace.WithSpanKind(trace.SpanKindClient), trace.WithSampler(trace.AlwaysSample()))
	span.AddAttributes(
		trace.Int64Attribute("retry.count", 2),
		trace.BoolAttribute("card.saved", true),
		trace.StringAttribute("currency", "EUR"),
	)
	span.Annotate([]trace.Attribute{trace.Int64Attribute("amount.cents", 1999)}, "authorized")
	linked := trace.SpanContext{TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}}
	span.AddLink(trace.Link{TraceID: linked.TraceID, SpanID: linked.SpanID, Type: trace.LinkTypeParent})
	span.SetStatus(trace.Status{Code: trace.StatusCodeUnavailable, Message: "payment provider down"})
	_, internal := trace.StartSpan(ctx, "compute-fee") // unspecified kind
	internal.End()
	span.End()
	require.Eventually(t, func() bool {
		exp.Flush()
		return len(rawSpans(s.allSpans())) == 2
	}, 10*time.Second, 100*time.Millisecond)
	spans := rawSpans(s.allSpans())

	charge := spans["charge"][0]
	res := charge.Resource.Resource().Attributes().AsRaw()
	assert.Equal(t, "checkout", res["service.name"])
	assert.Equal(t, defaultNodeHost, res["host.name"])
	assert.Positive(t, res["process.pid"])
	assert.Equal(t, "opencensus", res["telemetry.sdk.name"])
	assert.Equal(t, "go", res["telemetry.sdk.language"])
	assert.NotEmpty(t, res["telemetry.sdk.version"])
	assert.NotEmpty(t, res["opencensus.exporter_version"])

	assert.Equal(t, ptrace.SpanKindClient, charge.Span.Kind())
	assert.Equal(t, map[string]any{
		"retry.count": int64(2), "card.saved": true, "currency": "EUR", "opencensus.status_code": int64(14),
	}, charge.Span.Attributes().AsRaw())
	assert.Equal(t, ptrace.StatusCodeError, charge.Span.Status().Code())
	assert.Equal(t, "payment provider down", charge.Span.Status().Message())
	require.Equal(t, 1, charge.Span.Events().Len())
	assert.Equal(t, "authorized", charge.Span.Events().At(0).Name())
	assert.Equal(t, map[string]any{"amount.cents": int64(1999)}, charge.Span.Events().At(0).Attributes().AsRaw())
	require.Equal(t, 1, charge.Span.Links().Len())
	assert.Equal(t, pcommon.TraceID(linked.TraceID), charge.Span.Links().At(0).TraceID())
	assert.Equal(t, map[string]any{"opencensus.link.type": "parent_linked_span"}, charge.Span.Links().At(0).Attributes().AsRaw())
	assert.True(t, charge.Span.ParentSpanID().IsEmpty(), "root span: the exporter's all-zero parent id")

	fee := spans["compute-fee"][0]
	assert.Equal(t, ptrace.SpanKindUnspecified, fee.Span.Kind())
	assert.Equal(t, charge.Span.SpanID(), fee.Span.ParentSpanID())
}

// rawCodec sends bytes as they are, to put invalid protobuf on the wire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal([]byte, any) error   { return nil }
func (rawCodec) Name() string                  { return "proto" }

// TestOpenCensusGarbageClientDoesNotDisturbOthers: while a Linkerd-shaped
// client streams, other clients send raw bytes, an undecodable message and a
// malformed message to the same port. Each bad client gets an error; the
// first client's stream survives, shown by its later spans still inheriting
// the Node it sent at the start (a reconnected exporter would send its own).
func TestOpenCensusGarbageClientDoesNotDisturbOthers(t *testing.T) {
	s := startSink(t)
	c := startCollector(t, openCensusConfig, s.addr)
	exp := startOCExporter(t, c.ports.OpenCensus, "linkerd-proxy")

	parent := trace.SpanContext{TraceID: trace.TraceID{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 1}, SpanID: trace.SpanID{9, 9, 9, 9, 9, 9, 9, 1}}
	switchToLinkerdNode(t, exp, parent.TraceID, trace.SpanID{7, 7, 7, 7, 7, 7, 7, 1}, parent.SpanID)
	sendOutboundHop(t, exp, parent, "/before")
	s.waitForSpans(t, 6, 20*time.Second)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	// 1. Raw bytes that are not HTTP/2.
	conn, err := net.DialTimeout("tcp", c.ports.OpenCensus, 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff\xfe garbage \x16\x03\x01"))
	require.NoError(t, err)
	_, err = io.ReadAll(conn) // the server closes (or resets) the connection
	if err != nil {
		assert.ErrorIs(t, err, syscall.ECONNRESET, "server should close the connection, not leave it open")
	}
	conn.Close()

	grpcConn, err := grpc.NewClient(c.ports.OpenCensus, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer grpcConn.Close()

	// 2. Bytes that are not an ExportTraceServiceRequest.
	raw, err := grpcConn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true},
		"/opencensus.proto.agent.trace.v1.TraceService/Export", grpc.ForceCodec(rawCodec{}))
	require.NoError(t, err)
	require.NoError(t, raw.SendMsg([]byte{0x12, 0x80, 0x80, 0x80, 0x80, 0x10}))
	var resp []byte
	err = raw.RecvMsg(&resp)
	assert.Equal(t, codes.Internal, status.Code(err), "%v", err)

	// 3. A well-formed message with malformed spans.
	bad, err := agenttracepb.NewTraceServiceClient(grpcConn).Export(ctx)
	require.NoError(t, err)
	require.NoError(t, bad.Send(&agenttracepb.ExportTraceServiceRequest{
		Node:  linkerdNode(),
		Spans: []*tracepb.Span{{TraceId: []byte{1, 2, 3}, SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Name: &tracepb.TruncatableString{Value: "/evil"}}},
	}))
	_, err = bad.Recv()
	require.False(t, errors.Is(err, io.EOF))
	assert.Equal(t, codes.InvalidArgument, status.Code(err))
	assert.Equal(t, "malformed ExportTraceServiceRequest: spans[0]: trace_id must be 16 bytes, got 3", status.Convert(err).Message())

	// The first client carries on, on the same stream.
	sendOutboundHop(t, exp, parent, "/after")
	spans := rawSpans(s.waitForSpans(t, 10, 20*time.Second))
	require.Len(t, spans["/after"], 2)
	for _, sp := range spans["/after"] {
		assert.Equal(t, linkerdResource, sp.Resource.Resource().Attributes().AsRaw(), "Node inherited from the start of the stream")
	}
	assert.NotContains(t, spans, "/evil")

	require.Eventually(t, func() bool {
		m := scrapeMetrics(t, c.ports.Metrics)
		return m[`otelcol_receiver_opencensus_malformed_messages|reason="invalid"`] == 1 &&
			m[`otelcol_receiver_opencensus_malformed_messages|reason="undecodable"`] == 1 &&
			m[`otelcol_receiver_accepted_spans|receiver="opencensus"`] == 5
	}, 10*time.Second, 100*time.Millisecond, "malformed and accepted metrics")

	// The collector stops cleanly with the exporter's stream still open.
	c.stop(t)
}

// linkerdJaegerConfig is the part of the linkerd-jaeger chart's collector
// configuration (≤2.18) that applies to traces from proxies: the opencensus
// receiver and the resource processor that feeds k8sattributes.
const linkerdJaegerConfig = `
receivers:
  opencensus:
    endpoint: {{.OpenCensus}}
processors:
  resource:
    attributes:
      - {key: k8s.pod.name, from_attribute: host.name, action: insert}
      - {key: k8s.namespace.name, from_attribute: linkerd.io/workload-ns, action: insert}
service:
  pipelines:
    traces:
      receivers: [opencensus]
      processors: [resource]
      exporters: [otlp_grpc]
`

func TestOpenCensusLinkerdJaegerCollectorConfigKeepsWorking(t *testing.T) {
	s := startSink(t)
	c := startCollector(t, linkerdJaegerConfig, s.addr)

	conn, err := grpc.NewClient(c.ports.OpenCensus, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stream, err := agenttracepb.NewTraceServiceClient(conn).Export(ctx)
	require.NoError(t, err)
	now := time.Now()
	require.NoError(t, stream.Send(&agenttracepb.ExportTraceServiceRequest{
		Node: linkerdNode(),
		Spans: []*tracepb.Span{{
			TraceId: []byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, SpanId: []byte{2, 2, 2, 2, 2, 2, 2, 2},
			Name: &tracepb.TruncatableString{Value: "/books"}, Kind: tracepb.Span_SERVER,
			StartTime: timestamppb.New(now.Add(-time.Millisecond)), EndTime: timestamppb.New(now),
		}},
	}))
	require.NoError(t, stream.CloseSend())
	_, err = stream.Recv()
	require.ErrorIs(t, err, io.EOF)

	spans := s.waitForSpans(t, 1, 20*time.Second)
	res := spans[0].Resource.Resource().Attributes().AsRaw()
	assert.Equal(t, linkerdPod, res["k8s.pod.name"])
	assert.Equal(t, "booksapp", res["k8s.namespace.name"])
	assert.Equal(t, linkerdPod, res["host.name"])
}

// meshgenOpenCensusConfig receives the same meshgen traffic twice, over
// OpenCensus and over OTLP, into two pipelines with the same mesh processor
// (canary by the Linkerd deployment label); e2e.pipeline tells the copies
// apart.
const meshgenOpenCensusConfig = `
receivers:
  opencensus:
    endpoint: {{.OpenCensus}}
  otlp:
    protocols:
      grpc:
        endpoint: {{.OTLPGRPC}}
processors:
  mesh:
    canary:
      resource_labels:
        linkerd.io/proxy-deployment: [voting-canary]
  resource/opencensus:
    attributes:
      - {key: e2e.pipeline, value: opencensus, action: upsert}
  resource/otlp:
    attributes:
      - {key: e2e.pipeline, value: otlp, action: upsert}
service:
  pipelines:
    traces/opencensus:
      receivers: [opencensus]
      processors: [mesh, resource/opencensus]
      exporters: [otlp_grpc]
    traces/otlp:
      receivers: [otlp]
      processors: [mesh, resource/otlp]
      exporters: [otlp_grpc]
`

// TestMeshgenLinkerd217OverOpenCensus sends meshgen's Linkerd 2.17 traffic
// with its opencensus sender (the real agent exporter, one Node per pod) and
// the same traces over OTLP: every span arrives once per pipeline, normalized
// as a Linkerd span with its ids, kind and times, and the OpenCensus copy is
// identical to the OTLP copy (resource and span).
func TestMeshgenLinkerd217OverOpenCensus(t *testing.T) {
	s := startSink(t)
	c := startCollector(t, meshgenOpenCensusConfig, s.addr)

	opts := meshgen.Options{Mesh: meshgen.Linkerd, LinkerdSchema: 217, CanaryShare: 0.4, ErrorRate: 0.2, FlagRate: 0.2, Seed: 21}
	g := meshgen.New(opts)
	var traces []meshgen.Trace
	sent := map[pcommon.SpanID]ptrace.Span{}
	sentRes := map[pcommon.SpanID]pcommon.Resource{}
	for range 20 {
		tr := g.Next()
		traces = append(traces, tr)
		for _, rs := range tr.Traces.ResourceSpans().All() {
			for _, sp := range rs.ScopeSpans().At(0).Spans().All() {
				sent[sp.SpanID()], sentRes[sp.SpanID()] = sp, rs.Resource()
			}
		}
	}
	total := len(sent)

	oc, err := meshgen.NewSender("opencensus", c.ports.OpenCensus, opts)
	require.NoError(t, err)
	// The exporter connects in the background: the first export may find no
	// connection yet (nothing of it is sent then).
	require.Eventually(t, func() bool { return oc.Send(t.Context(), traces[0].Traces) == nil }, 10*time.Second, 50*time.Millisecond)
	// The rest in batches of several traces, as meshgen -batch sends them.
	for i := 1; i < len(traces); i += 4 {
		batch := ptrace.NewTraces()
		for _, tr := range traces[i:min(i+4, len(traces))] {
			for _, rs := range tr.Traces.ResourceSpans().All() {
				rs.CopyTo(batch.ResourceSpans().AppendEmpty())
			}
		}
		require.NoError(t, oc.Send(t.Context(), batch))
	}
	require.NoError(t, oc.Close(), "the collector took every message")

	otlp, err := meshgen.NewSender("otlp", c.ports.OTLPGRPC, opts)
	require.NoError(t, err)
	for _, tr := range traces {
		require.NoError(t, otlp.Send(t.Context(), tr.Traces))
	}
	require.NoError(t, otlp.Close())

	all := s.waitForSpans(t, 2*total, 30*time.Second)
	require.Len(t, all, 2*total, "nothing more arrives")
	byPipeline := map[string]map[pcommon.SpanID]receivedSpan{"opencensus": {}, "otlp": {}}
	for _, rs := range all {
		p, _ := rs.Resource.Resource().Attributes().Get("e2e.pipeline")
		require.Contains(t, byPipeline, p.Str())
		require.NotContains(t, byPipeline[p.Str()], rs.Span.SpanID(), "span %s twice over %s", rs.Span.SpanID(), p.Str())
		byPipeline[p.Str()][rs.Span.SpanID()] = rs
	}
	require.Len(t, byPipeline["opencensus"], total, "every span once over OpenCensus")
	require.Len(t, byPipeline["otlp"], total)

	canary, errors5xx := 0, 0
	for id, want := range sent {
		got, ok := byPipeline["opencensus"][id]
		require.True(t, ok, "span %s missing", id)
		wantRes := sentRes[id].Attributes()
		res := got.Resource.Resource().Attributes().AsRaw()
		attrs := got.Span.Attributes().AsRaw()

		// Ids, kind and times as generated.
		assert.Equal(t, want.TraceID(), got.Span.TraceID())
		assert.Equal(t, want.ParentSpanID(), got.Span.ParentSpanID())
		assert.Equal(t, want.Kind(), got.Span.Kind())
		assert.Equal(t, want.StartTimestamp(), got.Span.StartTimestamp())
		assert.Equal(t, want.EndTimestamp(), got.Span.EndTimestamp())
		// Every string tag of the proxy is kept next to the semconv keys.
		for k, v := range want.Attributes().All() {
			assert.Equal(t, v.Str(), attrs[k], "tag %s", k)
		}

		// The pod's Node became its resource, and Linkerd was detected.
		host, _ := wantRes.Get("host.name")
		app, _ := wantRes.Get("app")
		deployment, _ := wantRes.Get("linkerd.io/proxy-deployment")
		assert.Equal(t, "linkerd", res["mesh.name"])
		assert.Equal(t, "linkerd2-proxy", res["mesh.proxy"])
		assert.Equal(t, "sidecar", res["mesh.proxy.mode"])
		assert.Equal(t, app.Str(), res["service.name"], "the app label, promoted")
		assert.Equal(t, "linkerd-proxy", res["mesh.service.name.original"])
		assert.Equal(t, host.Str(), res["host.name"])
		assert.Equal(t, host.Str(), res["k8s.pod.name"])
		assert.Equal(t, "emojivoto", res["k8s.namespace.name"])
		assert.Equal(t, int64(1), res["process.pid"])
		assert.NotContains(t, res, "telemetry.sdk.name", "a Linkerd Node has no library info")

		// Normalized span.
		method, _ := want.Attributes().Get("http.method")
		path, _ := want.Attributes().Get("http.path")
		direction, _ := want.Attributes().Get("direction")
		code, _ := want.Attributes().Get("http.status_code")
		assert.Equal(t, method.Str(), got.Span.Name(), "the method, not the raw path")
		assert.Equal(t, want.Name(), attrs["mesh.span.original_name"])
		assert.Equal(t, method.Str(), attrs["http.request.method"])
		assert.Equal(t, direction.Str(), attrs["mesh.direction"])
		assert.Equal(t, strings.SplitN(path.Str(), "?", 2)[0], attrs["url.path"])
		assert.True(t, strings.HasSuffix(attrs["server.address"].(string), ".emojivoto.svc.cluster.local"), attrs["server.address"])
		assert.Equal(t, int64(8080), attrs["server.port"])
		statusCode, err := strconv.ParseInt(code.Str(), 10, 64)
		require.NoError(t, err)
		assert.Equal(t, statusCode, attrs["http.response.status_code"], "an int")
		if statusCode >= 500 {
			errors5xx++
			assert.Equal(t, ptrace.StatusCodeError, got.Span.Status().Code(), "a 5xx is an error")
			assert.Equal(t, code.Str(), attrs["error.type"])
		} else {
			assert.Equal(t, ptrace.StatusCodeUnset, got.Span.Status().Code())
		}
		servedByCanary := deployment.Str() == "voting-canary" && direction.Str() == "inbound"
		assert.Equal(t, servedByCanary, attrs["mesh.canary"], "resource label rule on inbound spans (%s %s)", deployment.Str(), direction.Str())
		if servedByCanary {
			canary++
		}

		// Exactly what the same span became over OTLP.
		viaOTLP := byPipeline["otlp"][id]
		wantOTLPRes := viaOTLP.Resource.Resource().Attributes().AsRaw()
		wantOTLPRes["e2e.pipeline"] = "opencensus"
		assert.Equal(t, wantOTLPRes, res, "resource, as over OTLP")
		assert.Equal(t, viaOTLP.Span.Attributes().AsRaw(), attrs, "span attributes, as over OTLP")
		assert.Equal(t, viaOTLP.Span.Name(), got.Span.Name())
		assert.Equal(t, viaOTLP.Span.Status().Code(), got.Span.Status().Code())
	}
	t.Logf("%d spans over OpenCensus, %d served by voting-canary, %d with a 5xx", total, canary, errors5xx)
	assert.Positive(t, canary)
	assert.Positive(t, errors5xx)

	require.Eventually(t, func() bool {
		m := scrapeMetrics(t, c.ports.Metrics)
		return m[`otelcol_receiver_accepted_spans|receiver="opencensus"`] == float64(total) &&
			m[`otelcol_receiver_refused_spans|receiver="opencensus"`] == 0
	}, 10*time.Second, 100*time.Millisecond, "accepted span metrics")
}
