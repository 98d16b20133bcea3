package opencensusreceiver

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	commonpb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/common/v1"
	agenttracepb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/trace/v1"
	resourcepb "github.com/census-instrumentation/opencensus-proto/gen-go/resource/v1"
	tracepb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/otelcol-mesh/otelcol-mesh/receiver/opencensusreceiver/internal/metadatatest"
)

// testTimeout bounds every wait on the network.
const testTimeout = 10 * time.Second

// startReceiver starts a receiver on a free loopback port with next as its
// consumer and returns it with its telemetry; it is shut down at test end.
func startReceiver(t *testing.T, next consumer.Traces, mutate ...func(*Config)) (*ocReceiver, *componenttest.Telemetry) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	for _, m := range mutate {
		m(cfg)
	}
	r, err := newReceiver(cfg, metadatatest.NewSettings(tel), next)
	require.NoError(t, err)
	require.NoError(t, r.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return r, tel
}

// dial opens a client connection of its own (a separate client).
func dial(t *testing.T, r *ocReceiver, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	conn, err := grpc.NewClient(r.addr.String(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func openExport(t *testing.T, conn *grpc.ClientConn) agenttracepb.TraceService_ExportClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	stream, err := agenttracepb.NewTraceServiceClient(conn).Export(ctx)
	require.NoError(t, err)
	return stream
}

// streamEnd closes the sending side if asked and returns how the server ended
// the stream (nil for a clean end).
func streamEnd(t *testing.T, stream agenttracepb.TraceService_ExportClient, closeSend bool) error {
	t.Helper()
	if closeSend {
		require.NoError(t, stream.CloseSend())
	}
	_, err := stream.Recv() // the receiver sends no responses: this returns at the end
	if errors.Is(err, io.EOF) {
		return nil
	}
	require.Error(t, err)
	return err
}

var testTraceID = []byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}

func ocSpan(name string, id byte) *tracepb.Span {
	return &tracepb.Span{
		TraceId:   testTraceID,
		SpanId:    []byte{0, 0, 0, 0, 0, 0, 1, id},
		Name:      &tracepb.TruncatableString{Value: name},
		Kind:      tracepb.Span_SERVER,
		StartTime: &timestamppb.Timestamp{Seconds: 1714557600},
		EndTime:   &timestamppb.Timestamp{Seconds: 1714557600, Nanos: 5_000_000},
		Attributes: &tracepb.Span_Attributes{AttributeMap: map[string]*tracepb.AttributeValue{
			"direction": {Value: &tracepb.AttributeValue_StringValue{StringValue: &tracepb.TruncatableString{Value: "inbound"}}},
		}},
	}
}

func linkerdNode(pod string) *commonpb.Node {
	return &commonpb.Node{
		Identifier:  &commonpb.ProcessIdentifier{HostName: pod, Pid: 1, StartTimestamp: &timestamppb.Timestamp{Seconds: 1714550000}},
		ServiceInfo: &commonpb.ServiceInfo{Name: "linkerd-proxy"},
		Attributes:  map[string]string{"app": "web", "linkerd.io/workload-ns": "emojivoto"},
	}
}

// spanResources maps each received span's name to its resource attributes.
func spanResources(sink *consumertest.TracesSink) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, td := range sink.AllTraces() {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					out[sp.Name()] = rs.Resource().Attributes().AsRaw()
				}
			}
		}
	}
	return out
}

// counter returns the value of an int sum metric at the data point with
// exactly the given attributes (0 when absent).
func counter(t *testing.T, tel *componenttest.Telemetry, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0
	}
	want := attribute.NewSet(attrs...)
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if dp.Attributes.Equals(&want) {
			return dp.Value
		}
	}
	return 0
}

var (
	receiverAttrs = []attribute.KeyValue{attribute.String("receiver", "opencensus"), attribute.String("transport", "grpc")}
	invalidAttrs  = []attribute.KeyValue{attribute.String("receiver", "opencensus"), attribute.String("reason", "invalid")}
)

const malformedMetric = "otelcol_receiver_opencensus_malformed_messages"

func TestExportInheritsNodeAndResource(t *testing.T) {
	sink := new(consumertest.TracesSink)
	r, tel := startReceiver(t, sink)
	stream := openExport(t, dial(t, r))

	res := &resourcepb.Resource{Type: "k8s", Labels: map[string]string{"k8s.pod.uid": "1234"}}
	// As the OpenCensus Go exporter does: Node and Resource first, no spans.
	require.NoError(t, stream.Send(&agenttracepb.ExportTraceServiceRequest{Node: linkerdNode("web-1"), Resource: res}))
	require.NoError(t, stream.Send(&agenttracepb.ExportTraceServiceRequest{Spans: []*tracepb.Span{ocSpan("/first", 1), ocSpan("/second", 2)}}))
	require.NoError(t, stream.Send(&agenttracepb.ExportTraceServiceRequest{Spans: []*tracepb.Span{ocSpan("/third", 3)}}))
	// A new Node replaces the old one; the Resource is still inherited.
	require.NoError(t, stream.Send(&agenttracepb.ExportTraceServiceRequest{Node: linkerdNode("web-2"), Spans: []*tracepb.Span{ocSpan("/fourth", 4)}}))
	// A new Resource replaces the old one; the Node is inherited.
	require.NoError(t, stream.Send(&agenttracepb.ExportTraceServiceRequest{
		Resource: &resourcepb.Resource{Labels: map[string]string{"zone": "b"}}, Spans: []*tracepb.Span{ocSpan("/fifth", 5)},
	}))
	require.NoError(t, streamEnd(t, stream, true))

	want := func(pod string, extra map[string]any) map[string]any {
		m := map[string]any{
			"service.name": "linkerd-proxy", "host.name": pod, "process.pid": int64(1),
			"process.start_timestamp": int64(1714550000), "app": "web", "linkerd.io/workload-ns": "emojivoto",
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	k8s := map[string]any{"opencensus.resource_type": "k8s", "k8s.pod.uid": "1234"}
	assert.Equal(t, map[string]map[string]any{
		"/first":  want("web-1", k8s),
		"/second": want("web-1", k8s),
		"/third":  want("web-1", k8s),
		"/fourth": want("web-2", k8s),
		"/fifth":  want("web-2", map[string]any{"zone": "b"}),
	}, spanResources(sink))
	assert.Len(t, sink.AllTraces(), 4, "one pipeline call per message with spans")

	sp := sink.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	assert.Equal(t, pcommon.TraceID(testTraceID), sp.TraceID())
	assert.Equal(t, ptrace.SpanKindServer, sp.Kind())
	assert.Equal(t, map[string]any{"direction": "inbound"}, sp.Attributes().AsRaw())

	assert.Equal(t, int64(5), counter(t, tel, "otelcol_receiver_accepted_spans", receiverAttrs...))
	assert.Equal(t, int64(0), counter(t, tel, "otelcol_receiver_refused_spans", receiverAttrs...))
}

func TestExportWithoutNode(t *testing.T) {
	sink := new(consumertest.TracesSink)
	r, _ := startReceiver(t, sink)
	stream := openExport(t, dial(t, r))
	require.NoError(t, stream.Send(&agenttracepb.ExportTraceServiceRequest{Spans: []*tracepb.Span{ocSpan("/anonymous", 1)}}))
	require.NoError(t, streamEnd(t, stream, true))
	assert.Equal(t, map[string]map[string]any{"/anonymous": {}}, spanResources(sink))
}

func TestExportConsumerRefuses(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantCode  codes.Code
		wantRetry bool // RetryInfo detail present
	}{
		{"retryable error", errors.New("exporter unreachable"), codes.Unavailable, false},
		{"permanent error", consumererror.NewPermanent(errors.New("bad data")), codes.Internal, false},
		{"error with a gRPC status keeps it", status.Error(codes.PermissionDenied, "tenant blocked"), codes.PermissionDenied, false},
		{"memory_limiter refusal", errors.New("data refused due to high memory usage"), codes.ResourceExhausted, true},
		{"full sending queue", errors.New("sending queue is full"), codes.ResourceExhausted, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, tel := startReceiver(t, consumertest.NewErr(tt.err))
			stream := openExport(t, dial(t, r))
			require.NoError(t, stream.Send(&agenttracepb.ExportTraceServiceRequest{Node: linkerdNode("web-1"), Spans: []*tracepb.Span{ocSpan("/a", 1), ocSpan("/b", 2)}}))
			err := streamEnd(t, stream, false)
			st := status.Convert(err)
			assert.Equal(t, tt.wantCode, st.Code(), "status: %v", st)
			assert.Equal(t, status.Convert(tt.err).Message(), st.Message())
			assert.Equal(t, tt.wantRetry, hasRetryInfo(st), "RetryInfo in %v", st.Details())

			assert.Equal(t, int64(2), counter(t, tel, "otelcol_receiver_refused_spans", receiverAttrs...))
			assert.Equal(t, int64(0), counter(t, tel, "otelcol_receiver_accepted_spans", receiverAttrs...))
			assert.Equal(t, int64(0), counter(t, tel, malformedMetric, invalidAttrs...))
		})
	}
}

func TestExportMalformedMessageClosesOnlyItsStream(t *testing.T) {
	sink := new(consumertest.TracesSink)
	r, tel := startReceiver(t, sink)
	good := openExport(t, dial(t, r))
	require.NoError(t, good.Send(&agenttracepb.ExportTraceServiceRequest{Node: linkerdNode("web-1"), Spans: []*tracepb.Span{ocSpan("/before", 1)}}))

	tests := []struct {
		name    string
		spans   []*tracepb.Span
		wantErr string
	}{
		{"short trace id", []*tracepb.Span{ocSpan("/ok", 2), {TraceId: []byte{1, 2, 3}, SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}}}, "spans[1]: trace_id must be 16 bytes, got 3"},
		{"missing span id", []*tracepb.Span{{TraceId: testTraceID}}, "spans[0]: span_id must be 8 bytes, got 0"},
		{"bad timestamp", []*tracepb.Span{func() *tracepb.Span { s := ocSpan("/x", 3); s.EndTime.Nanos = -5; return s }()}, "spans[0]: end_time has nanos -5 outside [0, 999999999]"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := openExport(t, dial(t, r))
			require.NoError(t, bad.Send(&agenttracepb.ExportTraceServiceRequest{Node: linkerdNode("evil"), Spans: tt.spans}))
			st := status.Convert(streamEnd(t, bad, false))
			assert.Equal(t, codes.InvalidArgument, st.Code())
			assert.Equal(t, "malformed ExportTraceServiceRequest: "+tt.wantErr, st.Message())
			assert.Equal(t, int64(i+1), counter(t, tel, malformedMetric, invalidAttrs...))
		})
	}

	// The good client's stream was not disturbed: it keeps sending.
	require.NoError(t, good.Send(&agenttracepb.ExportTraceServiceRequest{Spans: []*tracepb.Span{ocSpan("/after", 4)}}))
	require.NoError(t, streamEnd(t, good, true))
	got := spanResources(sink)
	assert.Len(t, got, 2, "nothing of a malformed message is passed on: %v", got)
	assert.Equal(t, "web-1", got["/after"]["host.name"])
	assert.Contains(t, got, "/before")
	assert.Equal(t, int64(2), counter(t, tel, "otelcol_receiver_accepted_spans", receiverAttrs...))
	assert.Equal(t, int64(4), counter(t, tel, "otelcol_receiver_refused_spans", receiverAttrs...), "spans of malformed messages")
}

// rawCodec sends bytes as they are, to put invalid protobuf on the wire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal([]byte, any) error   { return nil }
func (rawCodec) Name() string                  { return "proto" }

func TestExportUndecodableMessage(t *testing.T) {
	sink := new(consumertest.TracesSink)
	r, tel := startReceiver(t, sink)
	good := openExport(t, dial(t, r))
	require.NoError(t, good.Send(&agenttracepb.ExportTraceServiceRequest{Node: linkerdNode("web-1"), Spans: []*tracepb.Span{ocSpan("/before", 1)}}))

	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	raw, err := dial(t, r).NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true},
		"/opencensus.proto.agent.trace.v1.TraceService/Export", grpc.ForceCodec(rawCodec{}))
	require.NoError(t, err)
	require.NoError(t, raw.SendMsg([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})) // field 1, length beyond the message
	var resp []byte
	err = raw.RecvMsg(&resp)
	assert.Equal(t, codes.Internal, status.Code(err), "%v", err)
	assert.Contains(t, status.Convert(err).Message(), "unmarshal")
	require.Eventually(t, func() bool {
		return counter(t, tel, malformedMetric, attribute.String("receiver", "opencensus"), attribute.String("reason", "undecodable")) == 1
	}, testTimeout, 10*time.Millisecond)

	require.NoError(t, good.Send(&agenttracepb.ExportTraceServiceRequest{Spans: []*tracepb.Span{ocSpan("/after", 2)}}))
	require.NoError(t, streamEnd(t, good, true))
	assert.Len(t, spanResources(sink), 2)
}

func TestExportMessageLargerThanMaxRecvMsgSize(t *testing.T) {
	sink := new(consumertest.TracesSink)
	r, tel := startReceiver(t, sink, func(c *Config) { c.MaxRecvMsgSizeMiB = 1 })
	stream := openExport(t, dial(t, r))
	big := ocSpan("/big", 1)
	big.Attributes.AttributeMap["blob"] = &tracepb.AttributeValue{Value: &tracepb.AttributeValue_StringValue{
		StringValue: &tracepb.TruncatableString{Value: string(make([]byte, 1<<20))},
	}}
	require.NoError(t, stream.Send(&agenttracepb.ExportTraceServiceRequest{Spans: []*tracepb.Span{big}}))
	err := streamEnd(t, stream, false)
	assert.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	assert.Empty(t, sink.AllTraces())
	assert.Eventually(t, func() bool {
		return counter(t, tel, malformedMetric, attribute.String("receiver", "opencensus"), attribute.String("reason", "undecodable")) == 1
	}, testTimeout, 10*time.Millisecond, "a message over the size limit is counted")
}

func TestConfigStreamStaysOpenAndPushesNothing(t *testing.T) {
	r, _ := startReceiver(t, consumertest.NewNop())
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	cfgStream, err := agenttracepb.NewTraceServiceClient(dial(t, r)).Config(ctx)
	require.NoError(t, err)
	require.NoError(t, cfgStream.Send(&agenttracepb.CurrentLibraryConfig{Node: linkerdNode("web-1")}))

	recv := make(chan error, 1)
	go func() {
		_, err := cfgStream.Recv()
		recv <- err
	}()
	select {
	case err := <-recv:
		t.Fatalf("config stream ended or pushed a config right away: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, cfgStream.CloseSend())
	select {
	case err := <-recv:
		assert.ErrorIs(t, err, io.EOF, "a clean end, no config pushed")
	case <-time.After(testTimeout):
		t.Fatal("config stream did not end after CloseSend")
	}
}

func TestShutdownEndsOpenStreams(t *testing.T) {
	sink := new(consumertest.TracesSink)
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	r, err := newReceiver(cfg, metadatatest.NewSettings(tel), sink)
	require.NoError(t, err)
	require.NoError(t, r.Start(t.Context(), componenttest.NewNopHost()))

	stream := openExport(t, dial(t, r))
	require.NoError(t, stream.Send(&agenttracepb.ExportTraceServiceRequest{Node: linkerdNode("web-1"), Spans: []*tracepb.Span{ocSpan("/a", 1)}}))
	require.Eventually(t, func() bool { return sink.SpanCount() == 1 }, testTimeout, 10*time.Millisecond)

	done := make(chan error, 1)
	go func() { done <- r.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(testTimeout):
		t.Fatal("Shutdown blocked on an open client stream")
	}
	assert.Equal(t, codes.Unavailable, status.Code(streamEnd(t, stream, false)))
}

func TestStartFailsOnBusyPort(t *testing.T) {
	first, _ := startReceiver(t, consumertest.NewNop())
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = first.addr.String()
	second, err := newReceiver(cfg, metadatatest.NewSettings(componenttest.NewTelemetry()), consumertest.NewNop())
	require.NoError(t, err)
	err = second.Start(t.Context(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "address already in use")
	require.NoError(t, second.Shutdown(context.Background()))
}

func TestExportPassesClientMetadataWhenConfigured(t *testing.T) {
	got := make(chan []string, 1)
	next, err := consumer.NewTraces(func(ctx context.Context, _ ptrace.Traces) error {
		got <- client.FromContext(ctx).Metadata.Get("x-tenant")
		return nil
	})
	require.NoError(t, err)
	r, _ := startReceiver(t, next, func(c *Config) { c.IncludeMetadata = true })
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(t.Context(), "x-tenant", "booksapp"), testTimeout)
	defer cancel()
	stream, err := agenttracepb.NewTraceServiceClient(dial(t, r)).Export(ctx)
	require.NoError(t, err)
	require.NoError(t, stream.Send(&agenttracepb.ExportTraceServiceRequest{Spans: []*tracepb.Span{ocSpan("/a", 1)}}))
	require.NoError(t, streamEnd(t, stream, true))
	assert.Equal(t, []string{"booksapp"}, <-got)
}
