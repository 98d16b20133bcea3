package opencensusreceiver

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	agenttracepb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/trace/v1"
	tracepb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/memorylimiterprocessor"
	"go.opentelemetry.io/collector/processor/processortest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func hasRetryInfo(st *status.Status) bool {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration() == overloadRetryDelay
		}
	}
	return false
}

func TestConsumerErrorStatus(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantCode  codes.Code
		wantMsg   string
		wantRetry bool
	}{
		{"plain", errors.New("boom"), codes.Unavailable, "boom", false},
		{"permanent", consumererror.NewPermanent(errors.New("rejected by backend")), codes.Internal, "Permanent error: rejected by backend", false},
		{"wrapped status", fmt.Errorf("exporting: %w", status.Error(codes.Unauthenticated, "no token")), codes.Unauthenticated, "exporting: rpc error: code = Unauthenticated desc = no token", false},
		{"wrapped memory refusal", fmt.Errorf("pipeline: %w", errors.New("data refused due to high memory usage")), codes.ResourceExhausted, "pipeline: data refused due to high memory usage", true},
		{"permanent full queue is still overload", consumererror.NewPermanent(errors.New("sending queue is full")), codes.ResourceExhausted, "Permanent error: sending queue is full", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := status.Convert(consumerErrorStatus(tt.err))
			assert.Equal(t, tt.wantCode, st.Code())
			assert.Equal(t, tt.wantMsg, st.Message())
			assert.Equal(t, tt.wantRetry, hasRetryInfo(st))
		})
	}
}

// TestMemoryLimiterRefusalIsResourceExhausted pins the memory_limiter's
// refusal text at the release this distribution is built from: a limit far
// below this process's heap makes it refuse everything.
func TestMemoryLimiterRefusalIsResourceExhausted(t *testing.T) {
	factory := memorylimiterprocessor.NewFactory()
	cfg := factory.CreateDefaultConfig().(*memorylimiterprocessor.Config)
	cfg.CheckInterval = 10 * time.Millisecond
	cfg.MemoryLimitMiB = 1
	cfg.MemorySpikeLimitMiB = 0
	require.NoError(t, cfg.Validate())
	ml, err := factory.CreateTraces(t.Context(), processortest.NewNopSettings(factory.Type()), cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, ml.Start(t.Context(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, ml.Shutdown(context.Background())) }()

	var refusal error
	require.Eventually(t, func() bool {
		td := ptrace.NewTraces()
		td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		refusal = ml.ConsumeTraces(t.Context(), td)
		return refusal != nil
	}, testTimeout, 10*time.Millisecond, "memory_limiter never refused")

	r, tel := startReceiver(t, ml)
	stream := openExport(t, dial(t, r))
	require.NoError(t, stream.Send(&agenttracepb.ExportTraceServiceRequest{Node: linkerdNode("web-1"), Spans: []*tracepb.Span{ocSpan("/a", 1)}}))
	st := status.Convert(streamEnd(t, stream, false))
	assert.Equal(t, codes.ResourceExhausted, st.Code(), "memory_limiter said %q", refusal)
	assert.True(t, hasRetryInfo(st))
	assert.Equal(t, int64(1), counter(t, tel, "otelcol_receiver_refused_spans", receiverAttrs...))
}
