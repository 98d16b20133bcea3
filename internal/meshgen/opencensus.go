package meshgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"contrib.go.opencensus.io/exporter/ocagent"
	commonpb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/common/v1"
	agenttracepb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/trace/v1"
	tracepb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"go.opencensus.io/resource"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ocTraceExport is the agent's trace stream, the one OpenCensusSender drains
// on Close (the exporter also opens the metrics and config streams).
const ocTraceExport = "/opencensus.proto.agent.trace.v1.TraceService/Export"

// ocMetricsExport is the agent's metrics stream, which the exporter opens
// next to the trace stream.
const ocMetricsExport = "/opencensus.proto.agent.metrics.v1.MetricsService/Export"

// ocDrainTimeout bounds how long Close waits for the collector to take what
// was sent.
const ocDrainTimeout = 10 * time.Second

// OpenCensusSender exports over the OpenCensus agent protocol
// (TraceService.Export, one long-lived gRPC stream) with the OpenCensus Go
// agent exporter, as Linkerd proxies up to 2.17 do. Every message carries the
// Node of the proxy (pod) whose spans it holds — service name linkerd-proxy,
// the pod name as host name, pid, start time, the pod's labels as attributes —
// so each pod arrives with the same resource keys as over OTLP.
//
// A message is written to the stream without an answer from the collector
// (the protocol has none): a refusal ends the stream, and the exporter reports
// it on a later Send and reconnects in the background.
type OpenCensusSender struct {
	exp *ocagent.Exporter

	mu     sync.Mutex
	stream grpc.ClientStream // the exporter's current trace stream
}

// NewOpenCensusSender starts an agent exporter for endpoint (host:port,
// plaintext). It connects in the background when the collector is not up yet;
// until then Send fails.
func NewOpenCensusSender(endpoint string) (*OpenCensusSender, error) {
	s := &OpenCensusSender{}
	exp, err := ocagent.NewExporter(
		ocagent.WithInsecure(),
		ocagent.WithAddress(endpoint),
		// The exporter's own Node opens the stream; every message replaces it.
		ocagent.WithServiceName("meshgen"),
		// No Resource on the stream (not even one from OC_RESOURCE_* in the
		// environment): a pod's resource is all in its Node.
		ocagent.WithResourceDetector(func(context.Context) (*resource.Resource, error) { return nil, nil }),
		ocagent.WithReconnectionPeriod(time.Second),
		ocagent.WithGRPCDialOption(grpc.WithStreamInterceptor(s.intercept)),
	)
	if err != nil {
		return nil, err
	}
	s.exp = exp
	return s, nil
}

// intercept remembers the trace stream the exporter opens (again on each
// reconnection), so that Close can end it gracefully, and keeps the metrics
// stream off the wire: meshgen sends no metrics, and a collector that serves
// only traces (the opencensus receiver) answers it with Unimplemented, which,
// when it arrives before the exporter's first metrics message is written,
// fails the whole connection attempt and drops the fresh trace stream.
func (s *OpenCensusSender) intercept(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
	streamer grpc.Streamer, opts ...grpc.CallOption,
) (grpc.ClientStream, error) {
	if method == ocMetricsExport {
		return discardStream{ctx}, nil
	}
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err == nil && method == ocTraceExport {
		s.mu.Lock()
		s.stream = cs
		s.mu.Unlock()
	}
	return cs, err
}

// discardStream is a client stream that takes messages and sends nothing.
type discardStream struct{ ctx context.Context }

func (discardStream) Header() (metadata.MD, error) { return nil, nil }
func (discardStream) Trailer() metadata.MD         { return nil }
func (discardStream) CloseSend() error             { return nil }
func (d discardStream) Context() context.Context   { return d.ctx }
func (discardStream) SendMsg(any) error            { return nil }
func (discardStream) RecvMsg(any) error            { return io.EOF }

// Send writes one message per resource (pod) of td to the stream. ctx is not
// used: the exporter's send takes none (gRPC flow control bounds it).
func (s *OpenCensusSender) Send(_ context.Context, td ptrace.Traces) error {
	for _, req := range openCensusRequests(td) {
		if err := s.exp.ExportTraceServiceRequest(req); err != nil {
			return fmt.Errorf("opencensus export: %w", err)
		}
	}
	return nil
}

// Close half-closes the trace stream, waits (at most 10s) until the collector
// has taken every message sent on it and ended the stream, and stops the
// exporter. Closing the connection at once could drop the last messages.
func (s *OpenCensusSender) Close() error {
	s.mu.Lock()
	cs := s.stream
	s.mu.Unlock()
	var err error
	if cs != nil {
		err = drain(cs, ocDrainTimeout)
	}
	if serr := s.exp.Stop(); err == nil {
		err = serr
	}
	return err
}

// drain ends the sending side of cs and waits for the server to end the
// stream: io.EOF means it took every message.
func drain(cs grpc.ClientStream, timeout time.Duration) error {
	if err := cs.CloseSend(); err != nil {
		return fmt.Errorf("opencensus: closing the trace stream: %w", err)
	}
	done := make(chan error, 1)
	go func() { // returns at the latest when Stop closes the connection
		for {
			var resp agenttracepb.ExportTraceServiceResponse
			if err := cs.RecvMsg(&resp); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("opencensus: the collector ended the trace stream: %w", err)
	case <-time.After(timeout):
		return fmt.Errorf("opencensus: the collector did not end the trace stream within %s", timeout)
	}
}

// Resource keys that have a field of their own in the OpenCensus Node (the
// opencensus receiver maps them back to the same keys).
const (
	resServiceName    = "service.name"
	resHostName       = "host.name"
	resProcessPID     = "process.pid"
	resProcessStartTS = "process.start_timestamp"
)

// openCensusRequests converts td to agent messages, one per ResourceSpans:
// the resource becomes the message's Node (openCensusNode) and the spans of
// all its scopes the message's spans (openCensusSpan). No message carries a
// Resource. Resources without spans are left out.
func openCensusRequests(td ptrace.Traces) []*agenttracepb.ExportTraceServiceRequest {
	reqs := make([]*agenttracepb.ExportTraceServiceRequest, 0, td.ResourceSpans().Len())
	for _, rs := range td.ResourceSpans().All() {
		var spans []*tracepb.Span
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				spans = append(spans, openCensusSpan(span))
			}
		}
		if len(spans) > 0 {
			reqs = append(reqs, &agenttracepb.ExportTraceServiceRequest{Node: openCensusNode(rs.Resource()), Spans: spans})
		}
	}
	return reqs
}

// openCensusNode is the Node a Linkerd ≤2.17 proxy sends for res:
// service.name → service_info.name, host.name → identifier.host_name,
// process.pid (int) → identifier.pid, process.start_timestamp (int Unix
// seconds) → identifier.start_timestamp, every other key (the pod's labels)
// → attributes, as a string. No library info: the proxy sends none.
func openCensusNode(res pcommon.Resource) *commonpb.Node {
	node := &commonpb.Node{Identifier: &commonpb.ProcessIdentifier{}}
	for k, v := range res.Attributes().All() {
		switch {
		case k == resServiceName:
			node.ServiceInfo = &commonpb.ServiceInfo{Name: v.AsString()}
		case k == resHostName:
			node.Identifier.HostName = v.AsString()
		case k == resProcessPID && v.Type() == pcommon.ValueTypeInt && v.Int() > 0 && v.Int() <= 1<<32-1:
			node.Identifier.Pid = uint32(v.Int())
		case k == resProcessStartTS && v.Type() == pcommon.ValueTypeInt:
			node.Identifier.StartTimestamp = &timestamppb.Timestamp{Seconds: v.Int()}
		default:
			if node.Attributes == nil {
				node.Attributes = map[string]string{}
			}
			node.Attributes[k] = v.AsString()
		}
	}
	return node
}

// openCensusSpan converts span as the OpenCensus Go exporter would send it:
// ids, name, kind (INTERNAL becomes an unspecified kind in the parent's
// process), start and end times, attributes (string, int, bool and double
// kept, other types as strings) and an Error status (code UNKNOWN with its
// message). A root span has no parent id. Events and links are not sent: the
// generator makes none.
func openCensusSpan(span ptrace.Span) *tracepb.Span {
	tid, sid := span.TraceID(), span.SpanID()
	out := &tracepb.Span{
		TraceId:   tid[:],
		SpanId:    sid[:],
		Name:      &tracepb.TruncatableString{Value: span.Name()},
		StartTime: timestamppb.New(span.StartTimestamp().AsTime()),
		EndTime:   timestamppb.New(span.EndTimestamp().AsTime()),
	}
	if pid := span.ParentSpanID(); !pid.IsEmpty() {
		out.ParentSpanId = pid[:]
	}
	switch span.Kind() {
	case ptrace.SpanKindServer:
		out.Kind = tracepb.Span_SERVER
	case ptrace.SpanKindClient:
		out.Kind = tracepb.Span_CLIENT
	case ptrace.SpanKindInternal:
		out.SameProcessAsParentSpan = wrapperspb.Bool(true)
	}
	if n := span.Attributes().Len(); n > 0 {
		m := make(map[string]*tracepb.AttributeValue, n)
		for k, v := range span.Attributes().All() {
			m[k] = openCensusValue(v)
		}
		out.Attributes = &tracepb.Span_Attributes{AttributeMap: m}
	}
	if span.Status().Code() == ptrace.StatusCodeError {
		out.Status = &tracepb.Status{Code: 2, Message: span.Status().Message()} // 2: UNKNOWN
	}
	return out
}

func openCensusValue(v pcommon.Value) *tracepb.AttributeValue {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return &tracepb.AttributeValue{Value: &tracepb.AttributeValue_IntValue{IntValue: v.Int()}}
	case pcommon.ValueTypeBool:
		return &tracepb.AttributeValue{Value: &tracepb.AttributeValue_BoolValue{BoolValue: v.Bool()}}
	case pcommon.ValueTypeDouble:
		return &tracepb.AttributeValue{Value: &tracepb.AttributeValue_DoubleValue{DoubleValue: v.Double()}}
	}
	return &tracepb.AttributeValue{Value: &tracepb.AttributeValue_StringValue{
		StringValue: &tracepb.TruncatableString{Value: v.AsString()},
	}}
}
