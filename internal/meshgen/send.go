package meshgen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/reporter"
	zipkinhttp "github.com/openzipkin/zipkin-go/reporter/http"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Sender exports generated traces.
type Sender interface {
	Send(ctx context.Context, td ptrace.Traces) error
	Close() error
}

// OTLPSender exports over OTLP/gRPC with the pdata OTLP client, presenting
// Envoy's exporter User-Agent as Envoy does.
type OTLPSender struct {
	conn   *grpc.ClientConn
	client ptraceotlp.GRPCClient
}

// NewOTLPSender connects to an OTLP/gRPC endpoint (host:port, plaintext).
// userAgent is sent as the gRPC User-Agent when not empty.
func NewOTLPSender(endpoint, userAgent string) (*OTLPSender, error) {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if userAgent != "" {
		opts = append(opts, grpc.WithUserAgent(userAgent))
	}
	conn, err := grpc.NewClient(endpoint, opts...)
	if err != nil {
		return nil, err
	}
	return &OTLPSender{conn: conn, client: ptraceotlp.NewGRPCClient(conn)}, nil
}

// EnvoyUserAgent is the User-Agent Envoy's OTLP exporters send for a build.
func EnvoyUserAgent(o Options) string {
	if o.Mesh == Envoy {
		return "OTel-OTLP-Exporter-Envoy/" + envoyBuild
	}
	if o.Mesh == Linkerd {
		return ""
	}
	g := New(o)
	return "OTel-OTLP-Exporter-Envoy/" + g.opts.IstioSHA + "/" + EnvoyVersion(g.opts.IstioRelease) + "/Clean/RELEASE/BoringSSL"
}

func (s *OTLPSender) Send(ctx context.Context, td ptrace.Traces) error {
	_, err := s.client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
	return err
}

func (s *OTLPSender) Close() error { return s.conn.Close() }

// ZipkinSender reports Zipkin v2 JSON spans with zipkin-go's HTTP reporter,
// shaped as Envoy's Zipkin tracer writes them: localEndpoint.serviceName is
// the service cluster, ipv4 the pod IP, every tag a string.
type ZipkinSender struct {
	rep reporter.Reporter
}

// NewZipkinSender reports to http://<endpoint>/api/v2/spans.
func NewZipkinSender(endpoint string) *ZipkinSender {
	return &ZipkinSender{rep: zipkinhttp.NewReporter("http://"+endpoint+"/api/v2/spans",
		zipkinhttp.BatchSize(500), zipkinhttp.BatchInterval(100*time.Millisecond))}
}

func (s *ZipkinSender) Send(_ context.Context, td ptrace.Traces) error {
	for _, rs := range td.ResourceSpans().All() {
		service := ""
		if v, ok := rs.Resource().Attributes().Get("service.name"); ok {
			service = v.Str()
		}
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				s.rep.Send(toZipkin(service, span))
			}
		}
	}
	return nil
}

func (s *ZipkinSender) Close() error { return s.rep.Close() }

func toZipkin(service string, span ptrace.Span) model.SpanModel {
	tid := span.TraceID()
	sid, pid := span.SpanID(), span.ParentSpanID()
	sc := model.SpanContext{
		TraceID: model.TraceID{High: binary.BigEndian.Uint64(tid[:8]), Low: binary.BigEndian.Uint64(tid[8:])},
		ID:      model.ID(binary.BigEndian.Uint64(sid[:])),
	}
	if !pid.IsEmpty() {
		p := model.ID(binary.BigEndian.Uint64(pid[:]))
		sc.ParentID = &p
	}
	tags := map[string]string{}
	var ip net.IP
	for k, v := range span.Attributes().All() {
		tags[k] = v.AsString()
		if k == "node_id" {
			if parts := strings.Split(v.Str(), "~"); len(parts) == 4 {
				ip = net.ParseIP(parts[1])
			}
		}
	}
	kind := model.Server
	if span.Kind() == ptrace.SpanKindClient {
		kind = model.Client
	}
	start := span.StartTimestamp().AsTime()
	return model.SpanModel{
		SpanContext:   sc,
		Name:          span.Name(),
		Kind:          kind,
		Timestamp:     start,
		Duration:      span.EndTimestamp().AsTime().Sub(start),
		LocalEndpoint: &model.Endpoint{ServiceName: service, IPv4: ip},
		Tags:          tags,
	}
}

// NewSender returns a sender for protocol "otlp", "zipkin" or "opencensus".
// OpenCensus takes only Linkerd traffic with tag schema 217, the tags of the
// proxies that export OpenCensus (Linkerd ≤2.17).
func NewSender(protocol, endpoint string, o Options) (Sender, error) {
	switch protocol {
	case "otlp":
		return NewOTLPSender(endpoint, EnvoyUserAgent(o))
	case "zipkin":
		if o.Mesh == Linkerd {
			return nil, errors.New("linkerd proxies do not export Zipkin; use otlp")
		}
		return NewZipkinSender(endpoint), nil
	case "opencensus":
		g := New(o) // with the defaults filled in
		if g.opts.Mesh != Linkerd || g.opts.LinkerdSchema != 217 {
			what := "mesh " + string(g.opts.Mesh)
			if g.opts.Mesh == Linkerd {
				what = fmt.Sprintf("Linkerd schema %d", g.opts.LinkerdSchema)
			}
			return nil, fmt.Errorf("opencensus carries only Linkerd ≤2.17 proxy traffic (mesh linkerd, Linkerd schema 217), not %s; use otlp", what)
		}
		return NewOpenCensusSender(endpoint)
	}
	return nil, fmt.Errorf("unknown protocol %q (otlp, zipkin or opencensus)", protocol)
}

// Stats counts what Run sent.
type Stats struct {
	Traces, Spans, Errors, Failures, Slow, Canary int
	SendErrors                                    int
}

// Run sends traces at rate traces/s (0: as fast as possible) until count
// traces are sent (0: no limit) or ctx ends. batch traces go in one export.
func Run(ctx context.Context, g *Generator, s Sender, rate float64, count, batch int) (Stats, error) {
	var st Stats
	if batch < 1 {
		batch = 1
	}
	var tick *time.Ticker
	if rate > 0 {
		tick = time.NewTicker(time.Duration(float64(batch) * float64(time.Second) / rate))
		defer tick.Stop()
	}
	for count == 0 || st.Traces < count {
		if tick != nil {
			select {
			case <-ctx.Done():
				return st, nil
			case <-tick.C:
			}
		} else if ctx.Err() != nil {
			return st, nil
		}
		td := ptrace.NewTraces()
		for i := 0; i < batch && (count == 0 || st.Traces < count); i++ {
			t := g.Next()
			st.add(t)
			t.Traces.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
		}
		st.Spans += td.SpanCount()
		// The export in flight completes even when ctx ends meanwhile.
		sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := s.Send(sendCtx, td)
		cancel()
		if err != nil {
			st.SendErrors++
			if exports := st.Traces / batch; st.SendErrors > 100 && st.SendErrors*2 > exports {
				return st, fmt.Errorf("most exports fail, last: %w", err)
			}
		}
	}
	return st, nil
}

func (s *Stats) add(t Trace) {
	s.Traces++
	if t.Error {
		s.Errors++
	}
	if t.Failure {
		s.Failures++
	}
	if t.Slow {
		s.Slow++
	}
	if t.Canary {
		s.Canary++
	}
}
