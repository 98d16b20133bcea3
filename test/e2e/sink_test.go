package e2e

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
)

// sink is an in-test OTLP/gRPC server that stores every trace export it gets.
type sink struct {
	ptraceotlp.UnimplementedGRPCServer
	addr string

	mu     sync.Mutex
	traces []ptrace.Traces
	spans  int
}

func startSink(t *testing.T) *sink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{addr: l.Addr().String()}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(256 << 20))
	ptraceotlp.RegisterGRPCServer(srv, s)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return s
}

func (s *sink) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	td := ptrace.NewTraces()
	req.Traces().CopyTo(td)
	s.mu.Lock()
	s.traces = append(s.traces, td)
	s.spans += td.SpanCount()
	s.mu.Unlock()
	return ptraceotlp.NewExportResponse(), nil
}

// waitForSpans waits until at least n spans arrived and returns them all.
func (s *sink) waitForSpans(t *testing.T, n int, timeout time.Duration) []receivedSpan {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		got := s.spans
		s.mu.Unlock()
		if got >= n {
			return s.allSpans()
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink got %d spans, want %d within %s", got, n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// receivedSpan is a span with the resource it arrived under.
type receivedSpan struct {
	Resource ptrace.ResourceSpans
	Span     ptrace.Span
}

func (s *sink) allSpans() []receivedSpan {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []receivedSpan
	for _, td := range s.traces {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					out = append(out, receivedSpan{Resource: rs, Span: sp})
				}
			}
		}
	}
	return out
}

func findSpan(t *testing.T, spans []receivedSpan, name string) receivedSpan {
	t.Helper()
	for _, s := range spans {
		if s.Span.Name() == name {
			return s
		}
	}
	t.Fatalf("no span named %q among %d spans", name, len(spans))
	return receivedSpan{}
}
