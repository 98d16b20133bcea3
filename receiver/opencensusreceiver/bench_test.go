//go:build unix

package opencensusreceiver

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	commonpb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/common/v1"
	agenttracepb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/trace/v1"
	tracepb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/otelcol-mesh/otelcol-mesh/receiver/opencensusreceiver/internal/translator"
)

// The benchmarks compare this receiver with the collector's OTLP receiver on
// the same spans: batches of benchBatch Linkerd 2.17-shaped spans (five string
// attributes each) from one proxy. Each reports
//   - ns/span: wall time per span,
//   - cpu-ns/span: CPU time of the whole process (all cores) per span,
//   - spans/s/core: 1e9 / cpu-ns/span.
//
// Run: go test -run=^$ -bench=. -benchtime=3s ./receiver/opencensusreceiver
//
// BenchmarkReceive goes over loopback gRPC into the real receivers (created
// by their factories) with a consumer that only counts; the client sends
// pre-encoded bytes so that its cost is framing only. OpenCensus streams
// messages (the Node only in the first, as proxies do); OTLP makes one unary
// Export call per batch. BenchmarkDecodeConvert is the receiver-specific work
// alone on one goroutine: protobuf decoding plus, for OpenCensus, conversion.
const benchBatch = 100

func benchSpans() (*commonpb.Node, []*tracepb.Span) {
	node := &commonpb.Node{
		Identifier:  &commonpb.ProcessIdentifier{HostName: "web-7c9f8d6b5-x2x8q", Pid: 1, StartTimestamp: &timestamppb.Timestamp{Seconds: 1714550000}},
		ServiceInfo: &commonpb.ServiceInfo{Name: "linkerd-proxy"},
		Attributes: map[string]string{
			"app": "web", "version": "v2", "pod-template-hash": "7c9f8d6b5", "linkerd.io/proxy-deployment": "web",
			"linkerd.io/workload-ns": "booksapp", "linkerd.io/control-plane-ns": "linkerd",
		},
	}
	str := func(v string) *tracepb.AttributeValue {
		return &tracepb.AttributeValue{Value: &tracepb.AttributeValue_StringValue{StringValue: &tracepb.TruncatableString{Value: v}}}
	}
	spans := make([]*tracepb.Span, benchBatch)
	for i := range spans {
		kind, direction := tracepb.Span_SERVER, "inbound"
		if i%2 == 1 {
			kind, direction = tracepb.Span_CLIENT, "outbound"
		}
		path := fmt.Sprintf("/books/%d", i)
		spans[i] = &tracepb.Span{
			TraceId:      []byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, byte(i >> 8), byte(i)},
			SpanId:       []byte{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, byte(i >> 8), byte(i) | 1},
			ParentSpanId: []byte{0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, byte(i >> 8), byte(i) | 1},
			Name:         &tracepb.TruncatableString{Value: path},
			Kind:         kind,
			StartTime:    &timestamppb.Timestamp{Seconds: 1714557600, Nanos: int32(i * 1000)},
			EndTime:      &timestamppb.Timestamp{Seconds: 1714557600, Nanos: int32(i*1000 + 2_500_000)},
			Attributes: &tracepb.Span_Attributes{AttributeMap: map[string]*tracepb.AttributeValue{
				"direction":        str(direction),
				"http.method":      str("GET"),
				"http.path":        str(path + "?full=1"),
				"http.authority":   str("books.booksapp.svc.cluster.local:7002"),
				"http.status_code": str("200"),
			}},
		}
	}
	return node, spans
}

// benchPayloads returns the OpenCensus messages (first with the Node, later
// without) and the OTLP request that carries the same spans.
func benchPayloads(b *testing.B) (ocFirst, ocNext, otlp []byte) {
	node, spans := benchSpans()
	var err error
	ocFirst, err = proto.Marshal(&agenttracepb.ExportTraceServiceRequest{Node: node, Spans: spans})
	if err != nil {
		b.Fatal(err)
	}
	ocNext, err = proto.Marshal(&agenttracepb.ExportTraceServiceRequest{Spans: spans})
	if err != nil {
		b.Fatal(err)
	}
	td, err := translator.Traces(node, nil, spans)
	if err != nil {
		b.Fatal(err)
	}
	otlp, err = ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		b.Fatal(err)
	}
	return ocFirst, ocNext, otlp
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs send b.N times, waits until the consumer has counted them all
// and reports per-span figures.
func measure(b *testing.B, counted *atomic.Int64, send func() error) {
	counted.Store(0)
	b.ResetTimer()
	cpu0, wall0 := cpuTime(), time.Now()
	for range b.N {
		if err := send(); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(b.N) * benchBatch
	deadline := time.Now().Add(time.Minute)
	for counted.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("consumer counted %d of %d spans", counted.Load(), want)
		}
		time.Sleep(50 * time.Microsecond)
	}
	wall, cpu := time.Since(wall0), cpuTime()-cpu0
	b.StopTimer()
	report(b, wall, cpu, want)
}

func report(b *testing.B, wall, cpu time.Duration, spans int64) {
	cpuPerSpan := float64(cpu.Nanoseconds()) / float64(spans)
	b.ReportMetric(float64(wall.Nanoseconds())/float64(spans), "ns/span")
	b.ReportMetric(cpuPerSpan, "cpu-ns/span")
	if cpuPerSpan > 0 {
		b.ReportMetric(1e9/cpuPerSpan, "spans/s/core")
	}
}

func countingConsumer(b *testing.B, counted *atomic.Int64) consumer.Traces {
	c, err := consumer.NewTraces(func(_ context.Context, td ptrace.Traces) error {
		counted.Add(int64(td.SpanCount()))
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkReceive(b *testing.B) {
	ocFirst, ocNext, otlpReq := benchPayloads(b)
	ctx := b.Context()

	b.Run("opencensus", func(b *testing.B) {
		var counted atomic.Int64
		cfg := createDefaultConfig().(*Config)
		cfg.NetAddr.Endpoint = "127.0.0.1:0"
		set := receivertest.NewNopSettings(NewFactory().Type())
		r, err := newReceiver(cfg, set, countingConsumer(b, &counted))
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Start(ctx, componenttest.NewNopHost()); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = r.Shutdown(context.Background()) }()
		conn, err := grpc.NewClient(r.addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true},
			"/opencensus.proto.agent.trace.v1.TraceService/Export", grpc.ForceCodec(rawCodec{}))
		if err != nil {
			b.Fatal(err)
		}
		if err := stream.SendMsg(ocFirst); err != nil {
			b.Fatal(err)
		}
		for counted.Load() < benchBatch {
			time.Sleep(time.Millisecond)
		}
		measure(b, &counted, func() error { return stream.SendMsg(ocNext) })
	})

	b.Run("otlp", func(b *testing.B) {
		var counted atomic.Int64
		f := otlpreceiver.NewFactory()
		cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
		addr := freeLoopbackAddr(b)
		cfg.Protocols.GRPC.GetOrInsertDefault().NetAddr.Endpoint = addr
		cfg.Protocols.HTTP = configoptional.None[otlpreceiver.HTTPConfig]()
		r, err := f.CreateTraces(ctx, receivertest.NewNopSettings(f.Type()), cfg, countingConsumer(b, &counted))
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Start(ctx, componenttest.NewNopHost()); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = r.Shutdown(context.Background()) }()
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		var resp []byte
		measure(b, &counted, func() error {
			return conn.Invoke(ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", otlpReq, &resp, grpc.ForceCodec(rawCodec{}))
		})
	})
}

func BenchmarkDecodeConvert(b *testing.B) {
	_, ocNext, otlpReq := benchPayloads(b)
	node, _ := benchSpans()

	run := func(b *testing.B, op func() (int, error)) {
		b.ReportAllocs()
		b.ResetTimer()
		cpu0, wall0 := cpuTime(), time.Now()
		for range b.N {
			n, err := op()
			if err != nil || n != benchBatch {
				b.Fatalf("%d spans, %v", n, err)
			}
		}
		wall, cpu := time.Since(wall0), cpuTime()-cpu0
		b.StopTimer()
		report(b, wall, cpu, int64(b.N)*benchBatch)
	}
	b.Run("opencensus", func(b *testing.B) {
		run(b, func() (int, error) {
			req := &agenttracepb.ExportTraceServiceRequest{}
			if err := proto.Unmarshal(ocNext, req); err != nil {
				return 0, err
			}
			td, err := translator.Traces(node, req.GetResource(), req.GetSpans())
			return td.SpanCount(), err
		})
	})
	b.Run("otlp", func(b *testing.B) {
		run(b, func() (int, error) {
			req := ptraceotlp.NewExportRequest()
			err := req.UnmarshalProto(otlpReq)
			return req.Traces().SpanCount(), err
		})
	})
}

func freeLoopbackAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
