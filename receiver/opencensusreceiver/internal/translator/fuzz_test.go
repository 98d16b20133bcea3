package translator

import (
	"strings"
	"testing"

	agenttracepb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/trace/v1"
	tracepb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/proto"
)

// FuzzTraces feeds arbitrary wire bytes, decoded as the receiver decodes
// them, to the converter. It must never panic, must not modify its input, and
// must either reject the message with an error naming the field or return
// exactly one well-formed span per input span. Seeds: testdata/fuzz/FuzzTraces
// (Linkerd-shaped, every-field, node-only and malformed messages) and below.
// Run: go test -run=^$ -fuzz=FuzzTraces ./receiver/opencensusreceiver/internal/translator
func FuzzTraces(f *testing.F) {
	for _, s := range []*tracepb.Span{validSpan(), spanNamed("seed", 9)} {
		b, err := proto.Marshal(&agenttracepb.ExportTraceServiceRequest{Node: linkerdNode(), Spans: []*tracepb.Span{s}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		req := &agenttracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(data, req); err != nil {
			return // gRPC rejects it before the converter sees it
		}
		before := proto.Clone(req)

		td, err := Traces(req.GetNode(), req.GetResource(), req.GetSpans())

		if !proto.Equal(before, req) {
			t.Fatal("Traces modified its input")
		}
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "spans[") && !strings.HasPrefix(msg, "node.") {
				t.Fatalf("error does not name the field: %q", msg)
			}
			if td != (ptrace.Traces{}) {
				t.Fatal("data returned with an error")
			}
			return
		}
		if got, want := td.SpanCount(), len(req.GetSpans()); got != want {
			t.Fatalf("got %d spans, want %d", got, want)
		}
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					if sp.TraceID().IsEmpty() || sp.SpanID().IsEmpty() {
						t.Fatalf("span %q accepted without ids", sp.Name())
					}
					if sp.EndTimestamp() < sp.StartTimestamp() {
						t.Fatalf("span %q ends before it starts", sp.Name())
					}
					for _, l := range sp.Links().All() {
						if l.TraceID().IsEmpty() || l.SpanID().IsEmpty() {
							t.Fatalf("link of span %q accepted without ids", sp.Name())
						}
					}
				}
			}
		}
		// What the receiver passes on must survive an OTLP round trip.
		b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		if err != nil {
			t.Fatalf("converted traces do not marshal: %v", err)
		}
		back, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
		if err != nil {
			t.Fatalf("converted traces do not unmarshal: %v", err)
		}
		if back.SpanCount() != td.SpanCount() {
			t.Fatalf("OTLP round trip changed the span count: %d != %d", back.SpanCount(), td.SpanCount())
		}
	})
}
