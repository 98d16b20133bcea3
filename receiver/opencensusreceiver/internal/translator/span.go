package translator // import "github.com/otelcol-mesh/otelcol-mesh/receiver/opencensusreceiver/internal/translator"

import (
	"fmt"
	"math"
	"strings"

	tracepb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-mesh/otelcol-mesh/internal/grpccode"
)

// Span attribute keys and event names written from OpenCensus fields that
// OTLP has no field for.
const (
	// KeyStatusCode is the OpenCensus status code (a gRPC canonical code, int)
	// of a span whose status is not OK.
	KeyStatusCode = "opencensus.status_code"
	// KeyLinkType is a link's type: "child_linked_span" or "parent_linked_span".
	KeyLinkType = "opencensus.link.type"

	// EventMessage is the name of the event a message event becomes, with the
	// rpc.message.* attributes below (semantic conventions for RPC events).
	EventMessage           = "message"
	KeyMessageType         = "rpc.message.type" // "SENT" or "RECEIVED"
	KeyMessageID           = "rpc.message.id"
	KeyMessageCompressed   = "rpc.message.compressed_size"
	KeyMessageUncompressed = "rpc.message.uncompressed_size"
)

// Span flags bits that say whether the parent is remote (OTLP SpanFlags).
const (
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200
)

// convertSpan fills dst from src. Fields without an OTLP counterpart
// (stack_trace, child_span_count, truncated_byte_count of strings) are dropped.
func convertSpan(src *tracepb.Span, dst ptrace.Span) error {
	tid, err := traceID("trace_id", src.GetTraceId())
	if err != nil {
		return err
	}
	sid, err := spanID("span_id", src.GetSpanId())
	if err != nil {
		return err
	}
	pid, err := parentSpanID(src.GetParentSpanId())
	if err != nil {
		return err
	}
	start, err := timestamp(src.GetStartTime())
	if err != nil {
		return fmt.Errorf("start_time %w", err)
	}
	end, err := timestamp(src.GetEndTime())
	if err != nil {
		return fmt.Errorf("end_time %w", err)
	}
	if end < start {
		return fmt.Errorf("end_time is before start_time by %dns", uint64(start-end))
	}
	dst.SetTraceID(tid)
	dst.SetSpanID(sid)
	dst.SetParentSpanID(pid)
	dst.SetStartTimestamp(start)
	dst.SetEndTimestamp(end)
	dst.SetName(src.GetName().GetValue())
	dst.TraceState().FromRaw(traceState(src.GetTracestate()))

	kind, flags := spanKind(src)
	dst.SetKind(kind)
	dst.SetFlags(flags)

	dst.SetDroppedAttributesCount(putAttributes(dst.Attributes(), src.GetAttributes()))
	setStatus(src.GetStatus(), dst)

	if err := putEvents(src.GetTimeEvents(), dst); err != nil {
		return err
	}
	return putLinks(src.GetLinks(), dst)
}

// spanKind maps the kind. An unspecified kind stays unspecified unless the
// span says it is in the same process as its parent: then it is INTERNAL.
// same_process_as_parent_span also sets the OTLP "parent is remote" flag bits.
func spanKind(src *tracepb.Span) (ptrace.SpanKind, uint32) {
	var flags uint32
	sameProcess := src.GetSameProcessAsParentSpan()
	if sameProcess != nil {
		flags = flagHasIsRemote
		if !sameProcess.GetValue() {
			flags |= flagIsRemote
		}
	}
	switch src.GetKind() {
	case tracepb.Span_SERVER:
		return ptrace.SpanKindServer, flags
	case tracepb.Span_CLIENT:
		return ptrace.SpanKindClient, flags
	}
	if sameProcess.GetValue() {
		return ptrace.SpanKindInternal, flags
	}
	return ptrace.SpanKindUnspecified, flags
}

// setStatus maps an OpenCensus status: code 0 (OK) stays Unset, as semantic
// conventions want for instrumentation (OpenCensus plugins set OK with a
// message on every success); any other code is Error, described by the message
// or, without one, the code's name, and the code is kept in
// opencensus.status_code.
func setStatus(src *tracepb.Status, dst ptrace.Span) {
	if src.GetCode() == 0 {
		return
	}
	msg := src.GetMessage()
	if msg == "" {
		msg = statusName(src.GetCode())
	}
	dst.Status().SetCode(ptrace.StatusCodeError)
	dst.Status().SetMessage(msg)
	dst.Attributes().PutInt(KeyStatusCode, int64(src.GetCode()))
}

// statusName names a gRPC canonical code (NOT_FOUND), or CODE_<n>.
func statusName(code int32) string {
	if name, ok := grpccode.Name(int(code)); ok {
		return name
	}
	return fmt.Sprintf("CODE_%d", code)
}

// traceState renders the entries as a W3C tracestate header value.
func traceState(ts *tracepb.Span_Tracestate) string {
	entries := ts.GetEntries()
	switch len(entries) {
	case 0:
		return ""
	case 1:
		return entries[0].GetKey() + "=" + entries[0].GetValue()
	}
	var b strings.Builder
	for i, e := range entries {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(e.GetKey())
		b.WriteByte('=')
		b.WriteString(e.GetValue())
	}
	return b.String()
}

// putAttributes copies attributes of every OpenCensus type (string, int,
// bool, double) to dst and returns the dropped count: the sender's plus values
// without a type.
func putAttributes(dst pcommon.Map, src *tracepb.Span_Attributes) uint32 {
	dropped := nonNegative(src.GetDroppedAttributesCount())
	m := src.GetAttributeMap()
	if len(m) == 0 {
		return dropped
	}
	dst.EnsureCapacity(dst.Len() + len(m))
	for k, v := range m {
		switch x := v.GetValue().(type) {
		case *tracepb.AttributeValue_StringValue:
			if x == nil {
				dropped = addSat(dropped, 1)
				continue
			}
			dst.PutStr(k, x.StringValue.GetValue())
		case *tracepb.AttributeValue_IntValue:
			if x == nil {
				dropped = addSat(dropped, 1)
				continue
			}
			dst.PutInt(k, x.IntValue)
		case *tracepb.AttributeValue_BoolValue:
			if x == nil {
				dropped = addSat(dropped, 1)
				continue
			}
			dst.PutBool(k, x.BoolValue)
		case *tracepb.AttributeValue_DoubleValue:
			if x == nil {
				dropped = addSat(dropped, 1)
				continue
			}
			dst.PutDouble(k, x.DoubleValue)
		default:
			dropped = addSat(dropped, 1)
		}
	}
	return dropped
}

// putEvents converts annotations to events named by their description and
// message events to "message" events with rpc.message.* attributes. Time events
// with neither are counted as dropped, with the sender's dropped counts.
func putEvents(src *tracepb.Span_TimeEvents, dst ptrace.Span) error {
	dropped := addSat(nonNegative(src.GetDroppedAnnotationsCount()), nonNegative(src.GetDroppedMessageEventsCount()))
	tes := src.GetTimeEvent()
	if len(tes) > 0 {
		events := dst.Events()
		events.EnsureCapacity(len(tes))
		for i, te := range tes {
			ann, msg := te.GetAnnotation(), te.GetMessageEvent()
			if ann == nil && msg == nil {
				dropped = addSat(dropped, 1)
				continue
			}
			ts, err := timestamp(te.GetTime())
			if err != nil {
				return fmt.Errorf("time_events[%d].time %w", i, err)
			}
			ev := events.AppendEmpty()
			ev.SetTimestamp(ts)
			if ann != nil {
				ev.SetName(ann.GetDescription().GetValue())
				ev.SetDroppedAttributesCount(putAttributes(ev.Attributes(), ann.GetAttributes()))
				continue
			}
			ev.SetName(EventMessage)
			attrs := ev.Attributes()
			attrs.EnsureCapacity(4)
			switch msg.GetType() {
			case tracepb.Span_TimeEvent_MessageEvent_SENT:
				attrs.PutStr(KeyMessageType, "SENT")
			case tracepb.Span_TimeEvent_MessageEvent_RECEIVED:
				attrs.PutStr(KeyMessageType, "RECEIVED")
			}
			var droppedAttrs uint32
			for _, a := range [...]struct {
				key string
				v   uint64
			}{
				{KeyMessageID, msg.GetId()},
				{KeyMessageUncompressed, msg.GetUncompressedSize()},
				{KeyMessageCompressed, msg.GetCompressedSize()},
			} {
				if a.v > math.MaxInt64 {
					droppedAttrs++ // not representable as an OTLP int
					continue
				}
				attrs.PutInt(a.key, int64(a.v))
			}
			ev.SetDroppedAttributesCount(droppedAttrs)
		}
	}
	dst.SetDroppedEventsCount(dropped)
	return nil
}

// putLinks converts links with their attributes and tracestate; the link
// type goes to opencensus.link.type.
func putLinks(src *tracepb.Span_Links, dst ptrace.Span) error {
	dst.SetDroppedLinksCount(nonNegative(src.GetDroppedLinksCount()))
	ls := src.GetLink()
	if len(ls) == 0 {
		return nil
	}
	links := dst.Links()
	links.EnsureCapacity(len(ls))
	for i, l := range ls {
		tid, err := traceID(fmt.Sprintf("links[%d].trace_id", i), l.GetTraceId())
		if err != nil {
			return err
		}
		sid, err := spanID(fmt.Sprintf("links[%d].span_id", i), l.GetSpanId())
		if err != nil {
			return err
		}
		link := links.AppendEmpty()
		link.SetTraceID(tid)
		link.SetSpanID(sid)
		link.TraceState().FromRaw(traceState(l.GetTracestate()))
		link.SetDroppedAttributesCount(putAttributes(link.Attributes(), l.GetAttributes()))
		switch l.GetType() {
		case tracepb.Span_Link_CHILD_LINKED_SPAN:
			link.Attributes().PutStr(KeyLinkType, "child_linked_span")
		case tracepb.Span_Link_PARENT_LINKED_SPAN:
			link.Attributes().PutStr(KeyLinkType, "parent_linked_span")
		}
	}
	return nil
}

func nonNegative(n int32) uint32 {
	if n < 0 {
		return 0
	}
	return uint32(n)
}

// addSat adds without wrapping around.
func addSat(a, b uint32) uint32 {
	if a > math.MaxUint32-b {
		return math.MaxUint32
	}
	return a + b
}
