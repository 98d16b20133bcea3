package opencensusreceiver // import "github.com/otelcol-mesh/otelcol-mesh/receiver/opencensusreceiver"

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"

	commonpb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/common/v1"
	agenttracepb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/trace/v1"
	resourcepb "github.com/census-instrumentation/opencensus-proto/gen-go/resource/v1"
	tracepb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/otelcol-mesh/otelcol-mesh/receiver/opencensusreceiver/internal/metadata"
	"github.com/otelcol-mesh/otelcol-mesh/receiver/opencensusreceiver/internal/translator"
)

// format is the data format reported in the receiver's self-telemetry.
const format = "opencensus"

// ocReceiver serves opencensus.proto.agent.trace.v1.TraceService.
type ocReceiver struct {
	cfg      *Config
	settings receiver.Settings
	next     consumer.Traces
	obsrecv  *receiverhelper.ObsReport

	telemetry        *metadata.TelemetryBuilder
	invalidAttrs     metric.MeasurementOption
	undecodableAttrs metric.MeasurementOption

	server  *grpc.Server
	addr    net.Addr // where Start listens
	serving sync.WaitGroup
}

var _ agenttracepb.TraceServiceServer = (*ocReceiver)(nil)

func newReceiver(cfg *Config, set receiver.Settings, next consumer.Traces) (*ocReceiver, error) {
	obsrecv, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "grpc",
		LongLivedCtx:           true, // one stream context carries many messages
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	attrs := func(reason string) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(
			attribute.String("receiver", set.ID.String()),
			attribute.String("reason", reason),
		))
	}
	return &ocReceiver{
		cfg:              cfg,
		settings:         set,
		next:             next,
		obsrecv:          obsrecv,
		telemetry:        tb,
		invalidAttrs:     attrs("invalid"),
		undecodableAttrs: attrs("undecodable"),
	}, nil
}

// Start listens on the configured endpoint and serves the TraceService.
func (r *ocReceiver) Start(ctx context.Context, host component.Host) error {
	// WaitForHandlers: Shutdown returns only once every stream handler has
	// returned, so no span is passed on after the receiver stopped.
	server, err := r.cfg.ToServer(ctx, host.GetExtensions(), r.settings.TelemetrySettings,
		configgrpc.WithGrpcServerOption(grpc.WaitForHandlers(true)))
	if err != nil {
		return err
	}
	agenttracepb.RegisterTraceServiceServer(server, r)
	ln, err := r.cfg.NetAddr.Listen(ctx)
	if err != nil {
		server.Stop()
		return err
	}
	r.server, r.addr = server, ln.Addr()
	r.settings.Logger.Info("Starting OpenCensus trace receiver", zap.String("endpoint", r.addr.String()))
	r.serving.Go(func() {
		if err := server.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	})
	return nil
}

// Shutdown closes the listener and every open stream. OpenCensus clients keep
// one stream open for their whole life, so waiting for streams to end (a
// graceful stop) would never finish; a message being passed on when Shutdown
// is called still completes, and clients see Unavailable and reconnect.
func (r *ocReceiver) Shutdown(context.Context) error {
	if r.server != nil {
		r.server.Stop()
	}
	r.serving.Wait()
	r.telemetry.Shutdown()
	return nil
}

// Export receives a stream of ExportTraceServiceRequest messages. The first
// carries the Node (and usually the Resource); later ones may omit either and
// inherit the last one sent on the stream. Messages with spans are converted
// and passed on one at a time, so a slow pipeline slows the client down
// (gRPC flow control) instead of buffering here.
//
// The stream ends with a status the client can act on when a message is
// malformed (InvalidArgument; nothing of it is passed on) or the pipeline
// refuses data (ResourceExhausted when it is overloaded, Unavailable for other
// retryable errors, Internal for permanent ones). Other streams are unaffected.
func (r *ocReceiver) Export(stream agenttracepb.TraceService_ExportServer) error {
	ctx := stream.Context()
	var (
		node *commonpb.Node
		res  *resourcepb.Resource
	)
	for {
		req, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			// The message did not decode (Internal) or was over the size
			// limit (ResourceExhausted): a bad message, counted.
			if c := status.Code(err); c == codes.Internal || c == codes.ResourceExhausted {
				r.telemetry.ReceiverOpencensusMalformedMessages.Add(ctx, 1, r.undecodableAttrs)
				r.logMalformed(ctx, err)
			}
			return err
		}
		if req.GetNode() != nil {
			node = req.GetNode()
		}
		if req.GetResource() != nil {
			res = req.GetResource()
		}
		if len(req.GetSpans()) == 0 {
			continue
		}
		if err := r.consume(ctx, node, res, req.GetSpans()); err != nil {
			return err
		}
	}
}

// consume converts one message's spans and passes them on.
func (r *ocReceiver) consume(ctx context.Context, node *commonpb.Node, res *resourcepb.Resource, spans []*tracepb.Span) error {
	td, err := translator.Traces(node, res, spans)
	if err != nil {
		r.telemetry.ReceiverOpencensusMalformedMessages.Add(ctx, 1, r.invalidAttrs)
		opCtx := r.obsrecv.StartTracesOp(ctx)
		r.obsrecv.EndTracesOp(opCtx, format, len(spans), err)
		r.logMalformed(ctx, err)
		return status.Errorf(codes.InvalidArgument, "malformed ExportTraceServiceRequest: %v", err)
	}
	n := td.SpanCount()
	opCtx := r.obsrecv.StartTracesOp(ctx)
	err = r.next.ConsumeTraces(opCtx, td)
	r.obsrecv.EndTracesOp(opCtx, format, n, err)
	if err != nil {
		r.settings.Logger.Debug("Pipeline refused OpenCensus spans", zap.Int("spans", n), zap.Error(err))
		return consumerErrorStatus(err)
	}
	return nil
}

func (r *ocReceiver) logMalformed(ctx context.Context, err error) {
	fields := []zap.Field{zap.Error(err)}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		fields = append(fields, zap.String("peer", p.Addr.String()))
	}
	r.settings.Logger.Warn("Rejected malformed OpenCensus message; closing its stream", fields...)
}

// Config serves the agent's configuration stream. This receiver pushes no
// sampling configuration; it keeps the stream open as an agent does (the
// OpenCensus Go exporter opens it next to Export and would otherwise see an
// immediate error) and discards what the client reports.
func (r *ocReceiver) Config(stream agenttracepb.TraceService_ConfigServer) error {
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
