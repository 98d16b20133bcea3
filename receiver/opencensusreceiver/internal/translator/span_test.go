package translator

import (
	"math"
	"strings"
	"testing"

	tracepb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

var (
	traceIDBytes  = []byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}
	spanIDBytes   = []byte{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74}
	parentIDBytes = []byte{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73}
	linkTraceID   = []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	linkSpanID    = []byte{1, 2, 3, 4, 5, 6, 7, 8}

	// 2024-05-01T10:00:00.000000123Z and 250ms later.
	startTime = &timestamppb.Timestamp{Seconds: 1714557600, Nanos: 123}
	endTime   = &timestamppb.Timestamp{Seconds: 1714557600, Nanos: 250_000_123}
	startNs   = pcommon.Timestamp(1714557600_000000123)
	endNs     = pcommon.Timestamp(1714557600_250000123)
)

// validSpan is a minimal well-formed span; cases change one thing.
func validSpan() *tracepb.Span {
	return &tracepb.Span{
		TraceId:   traceIDBytes,
		SpanId:    spanIDBytes,
		Name:      &tracepb.TruncatableString{Value: "/api/list"},
		StartTime: startTime,
		EndTime:   endTime,
	}
}

func str(v string) *tracepb.AttributeValue {
	return &tracepb.AttributeValue{Value: &tracepb.AttributeValue_StringValue{StringValue: &tracepb.TruncatableString{Value: v}}}
}

func intVal(v int64) *tracepb.AttributeValue {
	return &tracepb.AttributeValue{Value: &tracepb.AttributeValue_IntValue{IntValue: v}}
}

func convertOne(t *testing.T, s *tracepb.Span) ptrace.Span {
	t.Helper()
	td, err := Traces(nil, nil, []*tracepb.Span{s})
	require.NoError(t, err)
	require.Equal(t, 1, td.SpanCount())
	return td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
}

func TestSpanFields(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*tracepb.Span)
		check  func(*testing.T, ptrace.Span)
	}{
		{
			name: "ids, name and times",
			mutate: func(s *tracepb.Span) {
				s.ParentSpanId = parentIDBytes
			},
			check: func(t *testing.T, sp ptrace.Span) {
				assert.Equal(t, pcommon.TraceID(traceIDBytes), sp.TraceID())
				assert.Equal(t, pcommon.SpanID(spanIDBytes), sp.SpanID())
				assert.Equal(t, pcommon.SpanID(parentIDBytes), sp.ParentSpanID())
				assert.Equal(t, "/api/list", sp.Name())
				assert.Equal(t, startNs, sp.StartTimestamp())
				assert.Equal(t, endNs, sp.EndTimestamp())
				assert.Equal(t, 0, sp.Attributes().Len())
				assert.Equal(t, 0, sp.Events().Len())
				assert.Equal(t, 0, sp.Links().Len())
				assert.Empty(t, sp.TraceState().AsRaw())
				assert.Equal(t, ptrace.StatusCodeUnset, sp.Status().Code())
			},
		},
		{
			name:   "no parent is a root span",
			mutate: func(s *tracepb.Span) { s.ParentSpanId = nil },
			check: func(t *testing.T, sp ptrace.Span) {
				assert.True(t, sp.ParentSpanID().IsEmpty())
			},
		},
		{
			name:   "all-zero parent (OpenCensus Go root span) is a root span",
			mutate: func(s *tracepb.Span) { s.ParentSpanId = make([]byte, 8) },
			check: func(t *testing.T, sp ptrace.Span) {
				assert.True(t, sp.ParentSpanID().IsEmpty())
			},
		},
		{
			name:   "missing name is empty",
			mutate: func(s *tracepb.Span) { s.Name = nil },
			check:  func(t *testing.T, sp ptrace.Span) { assert.Empty(t, sp.Name()) },
		},
		{
			name:   "truncated name keeps the value as sent",
			mutate: func(s *tracepb.Span) { s.Name = &tracepb.TruncatableString{Value: "/api/li", TruncatedByteCount: 2} },
			check:  func(t *testing.T, sp ptrace.Span) { assert.Equal(t, "/api/li", sp.Name()) },
		},
		{
			name:   "equal start and end",
			mutate: func(s *tracepb.Span) { s.EndTime = startTime },
			check: func(t *testing.T, sp ptrace.Span) {
				assert.Equal(t, startNs, sp.StartTimestamp())
				assert.Equal(t, startNs, sp.EndTimestamp())
			},
		},
		{
			name: "epoch and the last representable second",
			mutate: func(s *tracepb.Span) {
				s.StartTime = &timestamppb.Timestamp{}
				s.EndTime = &timestamppb.Timestamp{Seconds: maxSeconds, Nanos: 999_999_999}
			},
			check: func(t *testing.T, sp ptrace.Span) {
				assert.Equal(t, pcommon.Timestamp(0), sp.StartTimestamp())
				assert.Equal(t, pcommon.Timestamp(uint64(maxSeconds)*1e9+999_999_999), sp.EndTimestamp())
			},
		},
		{
			name: "tracestate entries in order",
			mutate: func(s *tracepb.Span) {
				s.Tracestate = &tracepb.Span_Tracestate{Entries: []*tracepb.Span_Tracestate_Entry{
					{Key: "ot", Value: "th:8"}, {Key: "vendor", Value: "abc"},
				}}
			},
			check: func(t *testing.T, sp ptrace.Span) { assert.Equal(t, "ot=th:8,vendor=abc", sp.TraceState().AsRaw()) },
		},
		{
			name: "tracestate single entry",
			mutate: func(s *tracepb.Span) {
				s.Tracestate = &tracepb.Span_Tracestate{Entries: []*tracepb.Span_Tracestate_Entry{{Key: "ot", Value: "th:8"}}}
			},
			check: func(t *testing.T, sp ptrace.Span) { assert.Equal(t, "ot=th:8", sp.TraceState().AsRaw()) },
		},
		{
			name: "stack trace and child span count have no OTLP field and add nothing",
			mutate: func(s *tracepb.Span) {
				s.StackTrace = &tracepb.StackTrace{StackTraceHashId: 7}
				s.ChildSpanCount = wrapperspb.UInt32(3)
			},
			check: func(t *testing.T, sp ptrace.Span) {
				assert.Equal(t, 0, sp.Attributes().Len())
				assert.Equal(t, uint32(0), sp.DroppedAttributesCount())
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpan()
			tt.mutate(s)
			tt.check(t, convertOne(t, s))
		})
	}
}

func TestSpanKind(t *testing.T) {
	tests := []struct {
		name        string
		kind        tracepb.Span_SpanKind
		sameProcess *wrapperspb.BoolValue
		want        ptrace.SpanKind
		wantFlags   uint32
	}{
		{"server", tracepb.Span_SERVER, nil, ptrace.SpanKindServer, 0},
		{"client", tracepb.Span_CLIENT, nil, ptrace.SpanKindClient, 0},
		{"unspecified", tracepb.Span_SPAN_KIND_UNSPECIFIED, nil, ptrace.SpanKindUnspecified, 0},
		{"unspecified in the parent's process is internal", tracepb.Span_SPAN_KIND_UNSPECIFIED, wrapperspb.Bool(true), ptrace.SpanKindInternal, 0x100},
		{"unspecified with a remote parent stays unspecified", tracepb.Span_SPAN_KIND_UNSPECIFIED, wrapperspb.Bool(false), ptrace.SpanKindUnspecified, 0x300},
		{"server with a remote parent", tracepb.Span_SERVER, wrapperspb.Bool(false), ptrace.SpanKindServer, 0x300},
		{"client in the parent's process", tracepb.Span_CLIENT, wrapperspb.Bool(true), ptrace.SpanKindClient, 0x100},
		{"unknown enum value", tracepb.Span_SpanKind(9), nil, ptrace.SpanKindUnspecified, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpan()
			s.Kind = tt.kind
			s.SameProcessAsParentSpan = tt.sameProcess
			sp := convertOne(t, s)
			assert.Equal(t, tt.want, sp.Kind())
			assert.Equal(t, tt.wantFlags, sp.Flags())
		})
	}
}

func TestSpanStatus(t *testing.T) {
	tests := []struct {
		name     string
		status   *tracepb.Status
		wantCode ptrace.StatusCode
		wantMsg  string
		wantAttr any // opencensus.status_code, nil when absent
	}{
		{"no status", nil, ptrace.StatusCodeUnset, "", nil},
		{"OK with a message stays unset", &tracepb.Status{Code: 0, Message: "OK"}, ptrace.StatusCodeUnset, "", nil},
		{"error with a message", &tracepb.Status{Code: 5, Message: "no such user"}, ptrace.StatusCodeError, "no such user", int64(5)},
		{"error without a message is named", &tracepb.Status{Code: 14}, ptrace.StatusCodeError, "UNAVAILABLE", int64(14)},
		{"cancelled in OpenCensus spelling", &tracepb.Status{Code: 1}, ptrace.StatusCodeError, "CANCELLED", int64(1)},
		{"last canonical code", &tracepb.Status{Code: 16}, ptrace.StatusCodeError, "UNAUTHENTICATED", int64(16)},
		{"unknown code", &tracepb.Status{Code: 99}, ptrace.StatusCodeError, "CODE_99", int64(99)},
		{"negative code", &tracepb.Status{Code: -2}, ptrace.StatusCodeError, "CODE_-2", int64(-2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpan()
			s.Status = tt.status
			sp := convertOne(t, s)
			assert.Equal(t, tt.wantCode, sp.Status().Code())
			assert.Equal(t, tt.wantMsg, sp.Status().Message())
			got, ok := sp.Attributes().AsRaw()[KeyStatusCode]
			if tt.wantAttr == nil {
				assert.False(t, ok, "unexpected %s=%v", KeyStatusCode, got)
			} else {
				assert.Equal(t, tt.wantAttr, got)
			}
		})
	}
}

func TestSpanAttributes(t *testing.T) {
	tests := []struct {
		name        string
		attrs       *tracepb.Span_Attributes
		want        map[string]any
		wantDropped uint32
	}{
		{"none", nil, map[string]any{}, 0},
		{
			name: "every type",
			attrs: &tracepb.Span_Attributes{AttributeMap: map[string]*tracepb.AttributeValue{
				"http.method":      str("GET"),
				"http.status_code": str("200"),
				"retries":          intVal(-3),
				"big":              intVal(math.MaxInt64),
				"cache.hit":        {Value: &tracepb.AttributeValue_BoolValue{BoolValue: true}},
				"cache.cold":       {Value: &tracepb.AttributeValue_BoolValue{BoolValue: false}},
				"ratio":            {Value: &tracepb.AttributeValue_DoubleValue{DoubleValue: 0.25}},
				"empty":            str(""),
			}},
			want: map[string]any{
				"http.method": "GET", "http.status_code": "200", "retries": int64(-3), "big": int64(math.MaxInt64),
				"cache.hit": true, "cache.cold": false, "ratio": 0.25, "empty": "",
			},
		},
		{
			name: "truncated string keeps the value as sent",
			attrs: &tracepb.Span_Attributes{AttributeMap: map[string]*tracepb.AttributeValue{
				"http.path": {Value: &tracepb.AttributeValue_StringValue{StringValue: &tracepb.TruncatableString{Value: "/api/very/lo", TruncatedByteCount: 120}}},
			}},
			want: map[string]any{"http.path": "/api/very/lo"},
		},
		{
			name: "string value without a string is empty",
			attrs: &tracepb.Span_Attributes{AttributeMap: map[string]*tracepb.AttributeValue{
				"x": {Value: &tracepb.AttributeValue_StringValue{}},
			}},
			want: map[string]any{"x": ""},
		},
		{
			name: "values without a type are dropped and counted with the sender's count",
			attrs: &tracepb.Span_Attributes{
				AttributeMap: map[string]*tracepb.AttributeValue{
					"kept": str("v"), "untyped": {}, "nil": nil,
					"typed-nil": {Value: (*tracepb.AttributeValue_IntValue)(nil)},
				},
				DroppedAttributesCount: 4,
			},
			want:        map[string]any{"kept": "v"},
			wantDropped: 7,
		},
		{
			name:        "negative dropped count is zero",
			attrs:       &tracepb.Span_Attributes{DroppedAttributesCount: -1},
			want:        map[string]any{},
			wantDropped: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpan()
			s.Attributes = tt.attrs
			sp := convertOne(t, s)
			assert.Equal(t, tt.want, sp.Attributes().AsRaw())
			assert.Equal(t, tt.wantDropped, sp.DroppedAttributesCount())
		})
	}
}

func TestSpanTimeEvents(t *testing.T) {
	evTime := &timestamppb.Timestamp{Seconds: 1714557600, Nanos: 100_000_000}
	evNs := pcommon.Timestamp(1714557600_100000000)
	type wantEvent struct {
		name    string
		attrs   map[string]any
		dropped uint32
	}
	tests := []struct {
		name        string
		events      *tracepb.Span_TimeEvents
		want        []wantEvent
		wantDropped uint32
	}{
		{"none", nil, nil, 0},
		{
			name: "annotation",
			events: &tracepb.Span_TimeEvents{TimeEvent: []*tracepb.Span_TimeEvent{{
				Time: evTime,
				Value: &tracepb.Span_TimeEvent_Annotation_{Annotation: &tracepb.Span_TimeEvent_Annotation{
					Description: &tracepb.TruncatableString{Value: "cache miss"},
					Attributes: &tracepb.Span_Attributes{
						AttributeMap:           map[string]*tracepb.AttributeValue{"key": str("user:42"), "size": intVal(3)},
						DroppedAttributesCount: 2,
					},
				}},
			}}},
			want: []wantEvent{{"cache miss", map[string]any{"key": "user:42", "size": int64(3)}, 2}},
		},
		{
			name: "message events",
			events: &tracepb.Span_TimeEvents{TimeEvent: []*tracepb.Span_TimeEvent{
				{Time: evTime, Value: &tracepb.Span_TimeEvent_MessageEvent_{MessageEvent: &tracepb.Span_TimeEvent_MessageEvent{
					Type: tracepb.Span_TimeEvent_MessageEvent_SENT, Id: 1, UncompressedSize: 512, CompressedSize: 128,
				}}},
				{Time: evTime, Value: &tracepb.Span_TimeEvent_MessageEvent_{MessageEvent: &tracepb.Span_TimeEvent_MessageEvent{
					Type: tracepb.Span_TimeEvent_MessageEvent_RECEIVED, Id: 2, UncompressedSize: 64,
				}}},
				{Time: evTime, Value: &tracepb.Span_TimeEvent_MessageEvent_{MessageEvent: &tracepb.Span_TimeEvent_MessageEvent{
					Id: 3, UncompressedSize: math.MaxUint64, CompressedSize: math.MaxInt64,
				}}},
			}},
			want: []wantEvent{
				{"message", map[string]any{"rpc.message.type": "SENT", "rpc.message.id": int64(1), "rpc.message.uncompressed_size": int64(512), "rpc.message.compressed_size": int64(128)}, 0},
				{"message", map[string]any{"rpc.message.type": "RECEIVED", "rpc.message.id": int64(2), "rpc.message.uncompressed_size": int64(64), "rpc.message.compressed_size": int64(0)}, 0},
				{"message", map[string]any{"rpc.message.id": int64(3), "rpc.message.compressed_size": int64(math.MaxInt64)}, 1},
			},
		},
		{
			name: "empty time events and sender counts are dropped events",
			events: &tracepb.Span_TimeEvents{
				TimeEvent: []*tracepb.Span_TimeEvent{
					{Time: evTime},
					nil,
					{Time: evTime, Value: &tracepb.Span_TimeEvent_Annotation_{Annotation: &tracepb.Span_TimeEvent_Annotation{}}},
				},
				DroppedAnnotationsCount:   3,
				DroppedMessageEventsCount: 5,
			},
			want:        []wantEvent{{"", map[string]any{}, 0}},
			wantDropped: 10,
		},
		{
			name: "dropped counts saturate",
			events: &tracepb.Span_TimeEvents{
				TimeEvent:                 []*tracepb.Span_TimeEvent{{Time: evTime}, {Time: evTime}, {Time: evTime}},
				DroppedAnnotationsCount:   math.MaxInt32,
				DroppedMessageEventsCount: math.MaxInt32,
			},
			wantDropped: math.MaxUint32,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpan()
			s.TimeEvents = tt.events
			sp := convertOne(t, s)
			require.Equal(t, len(tt.want), sp.Events().Len())
			for i, w := range tt.want {
				ev := sp.Events().At(i)
				assert.Equal(t, w.name, ev.Name(), "event %d", i)
				assert.Equal(t, evNs, ev.Timestamp(), "event %d", i)
				assert.Equal(t, w.attrs, ev.Attributes().AsRaw(), "event %d", i)
				assert.Equal(t, w.dropped, ev.DroppedAttributesCount(), "event %d", i)
			}
			assert.Equal(t, tt.wantDropped, sp.DroppedEventsCount())
		})
	}
}

func TestSpanLinks(t *testing.T) {
	s := validSpan()
	s.Links = &tracepb.Span_Links{
		Link: []*tracepb.Span_Link{
			{
				TraceId: linkTraceID, SpanId: linkSpanID, Type: tracepb.Span_Link_CHILD_LINKED_SPAN,
				Attributes: &tracepb.Span_Attributes{AttributeMap: map[string]*tracepb.AttributeValue{"reason": str("retry")}, DroppedAttributesCount: 1},
				Tracestate: &tracepb.Span_Tracestate{Entries: []*tracepb.Span_Tracestate_Entry{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}},
			},
			{TraceId: traceIDBytes, SpanId: parentIDBytes, Type: tracepb.Span_Link_PARENT_LINKED_SPAN},
			{TraceId: traceIDBytes, SpanId: linkSpanID},
		},
		DroppedLinksCount: 4,
	}
	sp := convertOne(t, s)
	require.Equal(t, 3, sp.Links().Len())
	assert.Equal(t, uint32(4), sp.DroppedLinksCount())

	l := sp.Links().At(0)
	assert.Equal(t, pcommon.TraceID(linkTraceID), l.TraceID())
	assert.Equal(t, pcommon.SpanID(linkSpanID), l.SpanID())
	assert.Equal(t, map[string]any{"reason": "retry", "opencensus.link.type": "child_linked_span"}, l.Attributes().AsRaw())
	assert.Equal(t, uint32(1), l.DroppedAttributesCount())
	assert.Equal(t, "a=1,b=2", l.TraceState().AsRaw())

	l = sp.Links().At(1)
	assert.Equal(t, pcommon.SpanID(parentIDBytes), l.SpanID())
	assert.Equal(t, map[string]any{"opencensus.link.type": "parent_linked_span"}, l.Attributes().AsRaw())
	assert.Empty(t, l.TraceState().AsRaw())

	assert.Equal(t, map[string]any{}, sp.Links().At(2).Attributes().AsRaw())
}

func TestMalformedSpans(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*tracepb.Span)
		wantErr string
	}{
		{"missing trace_id", func(s *tracepb.Span) { s.TraceId = nil }, "spans[0]: trace_id must be 16 bytes, got 0"},
		{"short trace_id", func(s *tracepb.Span) { s.TraceId = traceIDBytes[:15] }, "spans[0]: trace_id must be 16 bytes, got 15"},
		{"long trace_id", func(s *tracepb.Span) { s.TraceId = append(append([]byte{}, traceIDBytes...), 1) }, "spans[0]: trace_id must be 16 bytes, got 17"},
		{"zero trace_id", func(s *tracepb.Span) { s.TraceId = make([]byte, 16) }, "spans[0]: trace_id must not be all zeros"},
		{"missing span_id", func(s *tracepb.Span) { s.SpanId = nil }, "spans[0]: span_id must be 8 bytes, got 0"},
		{"long span_id", func(s *tracepb.Span) { s.SpanId = make([]byte, 9) }, "spans[0]: span_id must be 8 bytes, got 9"},
		{"zero span_id", func(s *tracepb.Span) { s.SpanId = make([]byte, 8) }, "spans[0]: span_id must not be all zeros"},
		{"short parent_span_id", func(s *tracepb.Span) { s.ParentSpanId = []byte{1, 2, 3, 4} }, "spans[0]: parent_span_id must be empty or 8 bytes, got 4"},
		{"missing start_time", func(s *tracepb.Span) { s.StartTime = nil }, "spans[0]: start_time is missing"},
		{"missing end_time", func(s *tracepb.Span) { s.EndTime = nil }, "spans[0]: end_time is missing"},
		{"start before epoch", func(s *tracepb.Span) { s.StartTime = &timestamppb.Timestamp{Seconds: -62135596800} }, "spans[0]: start_time is before the Unix epoch (seconds -62135596800)"},
		{"negative nanos", func(s *tracepb.Span) { s.StartTime = &timestamppb.Timestamp{Seconds: 1, Nanos: -1} }, "spans[0]: start_time has nanos -1 outside [0, 999999999]"},
		{"nanos of a whole second", func(s *tracepb.Span) { s.EndTime = &timestamppb.Timestamp{Seconds: 1714557600, Nanos: 1e9} }, "spans[0]: end_time has nanos 1000000000 outside [0, 999999999]"},
		{"end beyond uint64 nanoseconds", func(s *tracepb.Span) { s.EndTime = &timestamppb.Timestamp{Seconds: maxSeconds + 1} }, "spans[0]: end_time is after the year 2554"},
		{"end before start", func(s *tracepb.Span) { s.StartTime, s.EndTime = endTime, startTime }, "spans[0]: end_time is before start_time by 250000000ns"},
		{
			"time event without time",
			func(s *tracepb.Span) {
				s.TimeEvents = &tracepb.Span_TimeEvents{TimeEvent: []*tracepb.Span_TimeEvent{
					{Time: startTime, Value: &tracepb.Span_TimeEvent_Annotation_{Annotation: &tracepb.Span_TimeEvent_Annotation{}}},
					{Value: &tracepb.Span_TimeEvent_Annotation_{Annotation: &tracepb.Span_TimeEvent_Annotation{}}},
				}}
			},
			"spans[0]: time_events[1].time is missing",
		},
		{
			"time event with bad time",
			func(s *tracepb.Span) {
				s.TimeEvents = &tracepb.Span_TimeEvents{TimeEvent: []*tracepb.Span_TimeEvent{
					{Time: &timestamppb.Timestamp{Seconds: -1}, Value: &tracepb.Span_TimeEvent_MessageEvent_{MessageEvent: &tracepb.Span_TimeEvent_MessageEvent{}}},
				}}
			},
			"spans[0]: time_events[0].time is before the Unix epoch (seconds -1)",
		},
		{
			"link without trace_id",
			func(s *tracepb.Span) {
				s.Links = &tracepb.Span_Links{Link: []*tracepb.Span_Link{{TraceId: linkTraceID, SpanId: linkSpanID}, {SpanId: linkSpanID}}}
			},
			"spans[0]: links[1].trace_id must be 16 bytes, got 0",
		},
		{
			"link with short span_id",
			func(s *tracepb.Span) {
				s.Links = &tracepb.Span_Links{Link: []*tracepb.Span_Link{{TraceId: linkTraceID, SpanId: linkSpanID[:3]}}}
			},
			"spans[0]: links[0].span_id must be 8 bytes, got 3",
		},
		{
			"nil link",
			func(s *tracepb.Span) { s.Links = &tracepb.Span_Links{Link: []*tracepb.Span_Link{nil}} },
			"spans[0]: links[0].trace_id must be 16 bytes, got 0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpan()
			tt.mutate(s)
			td, err := Traces(nil, nil, []*tracepb.Span{s})
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tt.wantErr), "error %q does not start with %q", err, tt.wantErr)
			assert.Equal(t, ptrace.Traces{}, td, "nothing is returned with an error")
		})
	}
}
