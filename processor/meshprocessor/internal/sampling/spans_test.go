package sampling

import (
	"encoding/binary"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// spanSpec describes a normalized span as the mesh processor hands it to
// the sampler.
type spanSpec struct {
	trace      pcommon.TraceID
	id, parent uint64
	kind       ptrace.SpanKind
	direction  string // mesh.direction
	dest       string // mesh.destination.service
	status     int64  // http.response.status_code, 0: none
	err        bool   // status Error
	start, end uint64
	tracestate string
	seq        int64 // a unique mark, to follow each span through the engine
}

const seqKey = "test.seq"

func spanID(v uint64) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], v)
	return id
}

func traceID(hi, lo uint64) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[:8], hi)
	binary.BigEndian.PutUint64(id[8:], lo)
	return id
}

// build puts the spans into one resource of the given service.
func buildTraces(service string, specs ...spanSpec) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for _, s := range specs {
		sp := spans.AppendEmpty()
		sp.SetTraceID(s.trace)
		sp.SetSpanID(spanID(s.id))
		sp.SetParentSpanID(spanID(s.parent))
		sp.SetKind(s.kind)
		sp.SetName("op")
		sp.SetStartTimestamp(pcommon.Timestamp(s.start))
		sp.SetEndTimestamp(pcommon.Timestamp(s.end))
		sp.TraceState().FromRaw(s.tracestate)
		a := sp.Attributes()
		if s.direction != "" {
			a.PutStr("mesh.direction", s.direction)
		}
		if s.dest != "" {
			a.PutStr("mesh.destination.service", s.dest)
			a.PutStr("mesh.destination.namespace", "default")
		}
		if s.status != 0 {
			a.PutInt("http.response.status_code", s.status)
		}
		if s.err {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
		a.PutInt(seqKey, s.seq)
	}
	return td
}

// hop returns the three spans of a whole two-service trace: the root
// (inbound server), its outbound client hop to "b", and b's inbound server
// span; status goes on b's server span.
func hop(id pcommon.TraceID, status int64) []spanSpec {
	t0 := uint64(1_700_000_000_000_000_000)
	return []spanSpec{
		{trace: id, id: 1, kind: ptrace.SpanKindServer, direction: "inbound", start: t0, end: t0 + 5e6, seq: 1},
		{trace: id, id: 2, parent: 1, kind: ptrace.SpanKindClient, direction: "outbound", dest: "b", start: t0 + 1e6, end: t0 + 4e6, seq: 2},
		{trace: id, id: 3, parent: 2, kind: ptrace.SpanKindServer, direction: "inbound", status: status, err: status >= 500, start: t0 + 2e6, end: t0 + 3e6, seq: 3},
	}
}
