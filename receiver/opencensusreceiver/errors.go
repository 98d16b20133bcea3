package opencensusreceiver // import "github.com/otelcol-mesh/otelcol-mesh/receiver/opencensusreceiver"

import (
	"strings"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// overloadRetryDelay is the RetryInfo delay sent with ResourceExhausted: the
// memory_limiter's usual check interval.
const overloadRetryDelay = time.Second

// overloadMessages identify pipeline errors that mean "overloaded, send less":
// the memory_limiter processor's refusal and a full exporter sending queue.
// Both are unexported errors in internal collector packages, so they are
// recognized by text; a test pins the memory_limiter's at the pinned release.
var overloadMessages = []string{
	"data refused due to high memory usage",
	"sending queue is full",
}

// consumerErrorStatus turns an error from the next consumer into the gRPC
// status that ends the client's stream:
//   - an error that already carries a gRPC status keeps it;
//   - overload (memory_limiter refusal, full sending queue) is
//     ResourceExhausted with a RetryInfo delay;
//   - a permanent error is Internal (do not retry), as in the OTLP receiver;
//   - anything else is Unavailable (retry later).
func consumerErrorStatus(err error) error {
	if s, ok := status.FromError(err); ok {
		return s.Err()
	}
	msg := err.Error()
	for _, m := range overloadMessages {
		if strings.Contains(msg, m) {
			st := status.New(codes.ResourceExhausted, msg)
			if withRetry, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(overloadRetryDelay)}); derr == nil {
				st = withRetry
			}
			return st.Err()
		}
	}
	if consumererror.IsPermanent(err) {
		return status.Error(codes.Internal, msg)
	}
	return status.Error(codes.Unavailable, msg)
}
