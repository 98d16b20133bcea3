package translator // import "github.com/otelcol-mesh/otelcol-mesh/receiver/opencensusreceiver/internal/translator"

import (
	"errors"
	"fmt"
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// traceID checks that b is a 16-byte, not all-zero trace id.
func traceID(field string, b []byte) (pcommon.TraceID, error) {
	var id pcommon.TraceID
	if len(b) != len(id) {
		return id, fmt.Errorf("%s must be %d bytes, got %d", field, len(id), len(b))
	}
	copy(id[:], b)
	if id.IsEmpty() {
		return id, fmt.Errorf("%s must not be all zeros", field)
	}
	return id, nil
}

// spanID checks that b is an 8-byte, not all-zero span id.
func spanID(field string, b []byte) (pcommon.SpanID, error) {
	var id pcommon.SpanID
	if len(b) != len(id) {
		return id, fmt.Errorf("%s must be %d bytes, got %d", field, len(id), len(b))
	}
	copy(id[:], b)
	if id.IsEmpty() {
		return id, fmt.Errorf("%s must not be all zeros", field)
	}
	return id, nil
}

// parentSpanID accepts an empty or all-zero parent (a root span: the
// OpenCensus Go exporter always sends 8 bytes, zeros for a root) or an 8-byte id.
func parentSpanID(b []byte) (pcommon.SpanID, error) {
	var id pcommon.SpanID
	if len(b) != 0 && len(b) != len(id) {
		return id, fmt.Errorf("parent_span_id must be empty or %d bytes, got %d", len(id), len(b))
	}
	copy(id[:], b)
	return id, nil
}

var errMissing = errors.New("is missing")

// maxSeconds is the last whole second representable as uint64 nanoseconds
// since the Unix epoch (in the year 2554).
const maxSeconds = math.MaxUint64/1_000_000_000 - 1

// timestamp converts ts to nanoseconds since the Unix epoch. It rejects a
// missing timestamp, nanos outside [0, 1e9), times before the epoch, and times
// pdata cannot represent. Errors read as a predicate of the field name.
func timestamp(ts *timestamppb.Timestamp) (pcommon.Timestamp, error) {
	if ts == nil {
		return 0, errMissing
	}
	sec, nanos := ts.GetSeconds(), ts.GetNanos()
	switch {
	case nanos < 0 || nanos >= 1e9:
		return 0, fmt.Errorf("has nanos %d outside [0, 999999999]", nanos)
	case sec < 0:
		return 0, fmt.Errorf("is before the Unix epoch (seconds %d)", sec)
	case sec > maxSeconds:
		return 0, fmt.Errorf("is after the year 2554 (seconds %d)", sec)
	}
	return pcommon.Timestamp(uint64(sec)*1e9 + uint64(nanos)), nil
}
