package meshgen

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	commonpb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/common/v1"
	agenttracepb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/trace/v1"
	tracepb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func ocStr(v string) *tracepb.AttributeValue {
	return &tracepb.AttributeValue{Value: &tracepb.AttributeValue_StringValue{StringValue: &tracepb.TruncatableString{Value: v}}}
}

func assertProtoEqual(t *testing.T, want, got proto.Message, msgAndArgs ...any) {
	t.Helper()
	if !proto.Equal(want, got) {
		assert.Fail(t, "protos differ:\n got: "+prototext.Format(got)+"\nwant: "+prototext.Format(want), msgAndArgs...)
	}
}

func TestOpenCensusSpan(t *testing.T) {
	traceID := pcommon.TraceID{0x4a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c}
	spanID := pcommon.SpanID{0xf7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31}
	parentID := pcommon.SpanID{0xf7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x30}
	start := time.Unix(1_700_000_000, 123_456_789).UTC()
	end := start.Add(30*time.Millisecond + 7)

	for _, tc := range []struct {
		name string
		fill func(ptrace.Span)
		want *tracepb.Span
	}{
		{
			name: "linkerd 2.17 outbound server span",
			fill: func(s ptrace.Span) {
				s.SetParentSpanID(parentID)
				s.SetName("/api/list")
				s.SetKind(ptrace.SpanKindServer)
				s.Attributes().PutStr("direction", "outbound")
				s.Attributes().PutStr("http.method", "GET")
				s.Attributes().PutStr("http.path", "/api/list?limit=5")
				s.Attributes().PutStr("http.authority", "emoji-svc.emojivoto.svc.cluster.local:8080")
				s.Attributes().PutStr("http.status_code", "200")
			},
			want: &tracepb.Span{
				TraceId: traceID[:], SpanId: spanID[:], ParentSpanId: parentID[:],
				Name: &tracepb.TruncatableString{Value: "/api/list"},
				Kind: tracepb.Span_SERVER,
				Attributes: &tracepb.Span_Attributes{AttributeMap: map[string]*tracepb.AttributeValue{
					"direction":        ocStr("outbound"),
					"http.method":      ocStr("GET"),
					"http.path":        ocStr("/api/list?limit=5"),
					"http.authority":   ocStr("emoji-svc.emojivoto.svc.cluster.local:8080"),
					"http.status_code": ocStr("200"),
				}},
			},
		},
		{
			name: "root client span: no parent id, no attributes",
			fill: func(s ptrace.Span) {
				s.SetName("/api/vote")
				s.SetKind(ptrace.SpanKindClient)
			},
			want: &tracepb.Span{
				TraceId: traceID[:], SpanId: spanID[:],
				Name: &tracepb.TruncatableString{Value: "/api/vote"},
				Kind: tracepb.Span_CLIENT,
			},
		},
		{
			name: "internal span with typed attributes and an error",
			fill: func(s ptrace.Span) {
				s.SetParentSpanID(parentID)
				s.SetName("compute")
				s.SetKind(ptrace.SpanKindInternal)
				s.Attributes().PutInt("retry.count", 2)
				s.Attributes().PutBool("cached", true)
				s.Attributes().PutDouble("ratio", 0.25)
				s.Attributes().PutEmptySlice("tags").AppendEmpty().SetStr("a")
				s.Status().SetCode(ptrace.StatusCodeError)
				s.Status().SetMessage("upstream reset")
			},
			want: &tracepb.Span{
				TraceId: traceID[:], SpanId: spanID[:], ParentSpanId: parentID[:],
				Name:                    &tracepb.TruncatableString{Value: "compute"},
				SameProcessAsParentSpan: wrapperspb.Bool(true),
				Attributes: &tracepb.Span_Attributes{AttributeMap: map[string]*tracepb.AttributeValue{
					"retry.count": {Value: &tracepb.AttributeValue_IntValue{IntValue: 2}},
					"cached":      {Value: &tracepb.AttributeValue_BoolValue{BoolValue: true}},
					"ratio":       {Value: &tracepb.AttributeValue_DoubleValue{DoubleValue: 0.25}},
					"tags":        ocStr(`["a"]`),
				}},
				Status: &tracepb.Status{Code: 2, Message: "upstream reset"},
			},
		},
		{
			name: "producer span: unspecified kind, OK status left out",
			fill: func(s ptrace.Span) {
				s.SetName("publish")
				s.SetKind(ptrace.SpanKindProducer)
				s.Status().SetCode(ptrace.StatusCodeOk)
			},
			want: &tracepb.Span{
				TraceId: traceID[:], SpanId: spanID[:],
				Name: &tracepb.TruncatableString{Value: "publish"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ptrace.NewSpan()
			s.SetTraceID(traceID)
			s.SetSpanID(spanID)
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			s.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
			tc.fill(s)
			tc.want.StartTime = &timestamppb.Timestamp{Seconds: 1_700_000_000, Nanos: 123_456_789}
			tc.want.EndTime = &timestamppb.Timestamp{Seconds: 1_700_000_000, Nanos: 153_456_796}
			assertProtoEqual(t, tc.want, openCensusSpan(s))
		})
	}
}

// linkerd217Trace is one generated Linkerd 2.17 trace with a canary hop.
func linkerd217Trace(t *testing.T) Trace {
	t.Helper()
	tr := New(Options{Mesh: Linkerd, LinkerdSchema: 217, CanaryShare: 1, Seed: 11}).Next()
	require.True(t, tr.Canary)
	require.Equal(t, 10, tr.Traces.SpanCount())
	return tr
}

func TestOpenCensusRequestsOnePerPod(t *testing.T) {
	tr := linkerd217Trace(t)
	reqs := openCensusRequests(tr.Traces)
	require.Len(t, reqs, tr.Traces.ResourceSpans().Len(), "one message per pod")
	require.Len(t, reqs, 3, "web, emoji and voting-canary")

	deployments := map[string]bool{}
	for i, rs := range tr.Traces.ResourceSpans().All() {
		req := reqs[i]
		res := rs.Resource().Attributes()
		host, _ := res.Get("host.name")
		app, _ := res.Get("app")
		version, _ := res.Get("version")
		deployment, _ := res.Get("linkerd.io/proxy-deployment")
		deployments[deployment.Str()] = true

		assert.Nil(t, req.GetResource(), "a pod's resource is all in its Node")
		assertProtoEqual(t, &commonpb.Node{
			Identifier: &commonpb.ProcessIdentifier{
				HostName:       host.Str(),
				Pid:            1,
				StartTimestamp: &timestamppb.Timestamp{Seconds: 1_700_000_000},
			},
			ServiceInfo: &commonpb.ServiceInfo{Name: "linkerd-proxy"},
			Attributes: map[string]string{
				"app":                         app.Str(),
				"version":                     version.Str(),
				"pod-template-hash":           "7d9c8b7f6",
				"linkerd.io/control-plane-ns": "linkerd",
				"linkerd.io/proxy-deployment": deployment.Str(),
				"linkerd.io/workload-ns":      "emojivoto",
			},
		}, req.GetNode(), "pod %s", host.Str())

		spans := rs.ScopeSpans().At(0).Spans()
		require.Len(t, req.GetSpans(), spans.Len())
		for j, s := range spans.All() {
			assertProtoEqual(t, openCensusSpan(s), req.GetSpans()[j])
			tid, sid := s.TraceID(), s.SpanID()
			assert.Equal(t, tid[:], req.GetSpans()[j].GetTraceId())
			assert.Equal(t, sid[:], req.GetSpans()[j].GetSpanId())
		}
	}
	assert.Equal(t, map[string]bool{"web": true, "emoji": true, "voting-canary": true}, deployments)

	// The root span (web's inbound server span) has no parent id.
	root := reqs[0].GetSpans()[0]
	assert.Equal(t, "/api/vote", root.GetName().GetValue())
	assert.Equal(t, tracepb.Span_SERVER, root.GetKind())
	assert.Empty(t, root.GetParentSpanId())
	assert.Equal(t, "/api/vote?choice=:rocket:", root.GetAttributes().GetAttributeMap()["http.path"].GetStringValue().GetValue())

	empty := ptrace.NewTraces()
	empty.ResourceSpans().AppendEmpty().Resource().Attributes().PutStr("service.name", "linkerd-proxy")
	assert.Empty(t, openCensusRequests(empty), "a resource without spans sends nothing")
}

func TestNewSenderOpenCensusOnlyForLinkerd217(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		err  string
	}{
		{Options{Mesh: Istio}, "not mesh istio"},
		{Options{Mesh: Envoy}, "not mesh envoy"},
		{Options{}, "not mesh istio"},
		{Options{Mesh: Linkerd}, "not Linkerd schema 219"},
		{Options{Mesh: Linkerd, LinkerdSchema: 218}, "not Linkerd schema 218"},
	} {
		_, err := NewSender("opencensus", "127.0.0.1:1", tc.opts)
		require.Error(t, err, "%+v", tc.opts)
		assert.Equal(t, "opencensus carries only Linkerd ≤2.17 proxy traffic (mesh linkerd, Linkerd schema 217), "+tc.err+"; use otlp", err.Error())
	}
	_, err := NewSender("jaeger", "127.0.0.1:1", Options{})
	assert.EqualError(t, err, `unknown protocol "jaeger" (otlp, zipkin or opencensus)`)
}

// fakeAgent is an OpenCensus agent that records the trace messages of each
// stream; refuseAfter > 0 ends a stream with ResourceExhausted after that
// many span-carrying messages.
type fakeAgent struct {
	agenttracepb.UnimplementedTraceServiceServer
	refuseAfter int

	mu      sync.Mutex
	streams [][]*agenttracepb.ExportTraceServiceRequest
	ended   []error // how each stream ended on the server side
}

func (a *fakeAgent) Export(stream agenttracepb.TraceService_ExportServer) error {
	a.mu.Lock()
	i := len(a.streams)
	a.streams = append(a.streams, nil)
	a.mu.Unlock()
	withSpans := 0
	for {
		req, err := stream.Recv()
		if err != nil {
			a.mu.Lock()
			a.ended = append(a.ended, err)
			a.mu.Unlock()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		a.mu.Lock()
		a.streams[i] = append(a.streams[i], req)
		a.mu.Unlock()
		if len(req.GetSpans()) > 0 {
			withSpans++
			if a.refuseAfter > 0 && withSpans >= a.refuseAfter {
				return status.Error(codes.ResourceExhausted, "pipeline full")
			}
		}
	}
}

func (a *fakeAgent) Config(stream agenttracepb.TraceService_ConfigServer) error {
	for {
		if _, err := stream.Recv(); err != nil {
			return nil
		}
	}
}

func startFakeAgent(t *testing.T, a *fakeAgent) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	agenttracepb.RegisterTraceServiceServer(srv, a)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

// connectedSender waits until the exporter's first connection is up (it
// connects in the background).
func connectedSender(t *testing.T, addr string, td ptrace.Traces) *OpenCensusSender {
	t.Helper()
	s, err := NewSender("opencensus", addr, Options{Mesh: Linkerd, LinkerdSchema: 217})
	require.NoError(t, err)
	oc := s.(*OpenCensusSender)
	require.Eventually(t, func() bool { return oc.Send(t.Context(), td) == nil }, 10*time.Second, 50*time.Millisecond)
	return oc
}

func TestOpenCensusSenderStreamsEveryPodWithItsNode(t *testing.T) {
	a := &fakeAgent{}
	addr := startFakeAgent(t, a)
	first, second := linkerd217Trace(t), New(Options{Mesh: Linkerd, LinkerdSchema: 217, ErrorRate: 1, Seed: 12}).Next()

	s := connectedSender(t, addr, first.Traces)
	require.NoError(t, s.Send(t.Context(), second.Traces))
	require.NoError(t, s.Close(), "the agent took everything and ended the stream")

	a.mu.Lock()
	defer a.mu.Unlock()
	require.Len(t, a.streams, 1, "one stream for the sender's life")
	require.Equal(t, []error{io.EOF}, a.ended, "Close half-closed the stream and waited for the agent")
	msgs := a.streams[0]
	want := append(openCensusRequests(first.Traces), openCensusRequests(second.Traces)...)
	require.Len(t, msgs, 1+len(want))

	// The exporter opens the stream with its own Node and no Resource ...
	assert.Empty(t, msgs[0].GetSpans())
	assert.Nil(t, msgs[0].GetResource(), "no OC_RESOURCE_* resource either")
	assert.Equal(t, "meshgen", msgs[0].GetNode().GetServiceInfo().GetName())
	// ... and every later message carries the Node of its pod.
	for i, w := range want {
		assertProtoEqual(t, w, msgs[1+i], "message %d", 1+i)
	}
}

func TestOpenCensusSenderReportsARefusal(t *testing.T) {
	a := &fakeAgent{refuseAfter: 1}
	addr := startFakeAgent(t, a)
	tr := linkerd217Trace(t)

	s := connectedSender(t, addr, tr.Traces) // the agent refuses after the first message
	// The refusal reaches the sender on a later Send or, at the latest, on Close.
	var errs []error
	for range 3 {
		if err := s.Send(t.Context(), tr.Traces); err != nil {
			errs = append(errs, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		errs = append(errs, err)
	}
	require.NotEmpty(t, errs)
	assert.Equal(t, codes.ResourceExhausted, status.Code(errs[0]), "%v", errs)
}
