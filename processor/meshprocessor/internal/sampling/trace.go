package sampling

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/responseflags"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"
)

// trace is a buffered trace: its spans as OTLP protobuf chunks (one per
// resource of each batch it arrived in) and what the rules and the
// completeness check need to know about them.
type trace struct {
	id          pcommon.TraceID
	first, last int64 // arrival times, unix ns
	chunks      []bufferedChunk
	bytes       int
	spans       int

	tree structure // completeness, see complete.go

	err, failure, retry, canary, slow bool
	minStart, maxEnd                  uint64 // of spans with both timestamps set
	edges                             []uint64
	attrMatch                         uint64

	// randomness is the trace's OTEP 235 randomness: an explicit `rv` from
	// any of its spans, else its trace id.
	randomness uint64
	explicitRV bool
	upstream   threshold.Threshold
}

func newTrace(id pcommon.TraceID, now int64) *trace {
	return &trace{id: id, first: now, randomness: threshold.TraceIDRandomness(id), upstream: threshold.Always}
}

func spanKey(id pcommon.SpanID) uint64 { return binary.BigEndian.Uint64(id[:]) }

// traceFixedBytes is what a buffered trace costs besides its spans and ids:
// the struct, its entry in the shard's map and in the arrival-order queue.
const traceFixedBytes = int(unsafe.Sizeof(trace{})) + 48 + int(unsafe.Sizeof(pcommon.TraceID{}))

// bufferedChunk is one buffered part of a trace: OTLP protobuf, with its
// resource in it or, when res is set, held by res for the chunks of one
// request.
type bufferedChunk struct {
	b   []byte
	res *sharedResource
}

// chunkOverhead is what a buffered chunk costs besides its bytes: its
// bufferedChunk (slice header and resource pointer) and at most one
// due-index entry.
const chunkOverhead = int(unsafe.Sizeof(bufferedChunk{})) + int(unsafe.Sizeof(dueEntry{}))

// memoryOverhead estimates the bytes a trace holds beyond its chunks.
func (t *trace) memoryOverhead() int {
	return traceFixedBytes + t.tree.bytes() + 8*cap(t.edges) + chunkOverhead*cap(t.chunks)
}

func (t *trace) complete() bool { return t.tree.complete() }

func (t *trace) protected() bool { return t.err || t.failure || t.retry }

// spanFacts is what one span contributes to its trace.
type spanFacts struct {
	err, failure, retry, canary bool
	outbound, inbound           bool
	status                      int64
	dest, destNamespace         string
}

// observe reads the attributes the rules need from a normalized span, in
// one pass over its attributes.
func (e *Engine) observe(t *trace, span ptrace.Span, source string, resAttrMatch uint64) {
	var f spanFacts
	f.err = span.Status().Code() == ptrace.StatusCodeError
	attrMatch := resAttrMatch
	for k, v := range span.Attributes().All() {
		switch k {
		case "http.response.status_code":
			f.status = v.Int()
			if f.status >= 500 {
				f.err = true
			}
		case "mesh.response_flags":
			if _, ok := responseflags.Failure(v.Str()); ok {
				f.failure = true
			}
		case "http.request.resend_count", "retry.count":
			if v.Int() > 0 || (v.Type() == pcommon.ValueTypeStr && v.Str() != "0" && v.Str() != "") {
				f.retry = true
			}
		case "mesh.canary":
			f.canary = v.Bool()
		case "mesh.direction":
			f.outbound, f.inbound = v.Str() == "outbound", v.Str() == "inbound"
		case "mesh.destination.service":
			f.dest = v.Str()
		case "mesh.destination.namespace":
			f.destNamespace = v.Str()
		}
		if e.attrKeys[k] {
			attrMatch |= e.matchAttribute(k, v, false)
		}
	}
	t.attrMatch |= attrMatch
	t.err = t.err || f.err
	t.failure = t.failure || f.failure
	t.retry = t.retry || f.retry
	t.canary = t.canary || f.canary

	// A span without both timestamps says nothing about latency (a zero
	// start would make it 55 years long).
	if start, end := uint64(span.StartTimestamp()), uint64(span.EndTimestamp()); start != 0 && end > start {
		if t.minStart == 0 || start < t.minStart {
			t.minStart = start
		}
		t.maxEnd = max(t.maxEnd, end)
		if hop := e.rules.latency.hopThreshold(f.dest); hop > 0 && end-start >= uint64(hop) {
			t.slow = true
		}
	}

	ts := span.TraceState().AsRaw()
	if !t.explicitRV {
		if rv, ok := threshold.ExplicitRandomness(ts); ok {
			t.randomness, t.explicitRV = rv, true
		}
	}
	if up, ok := threshold.Upstream(ts); ok && up > t.upstream {
		t.upstream = up
	}

	id, parent := spanKey(span.SpanID()), spanKey(span.ParentSpanID())
	if !t.tree.add(id, parent, span.Kind()) {
		return // delivered twice: its structure is known
	}
	switch span.Kind() {
	case ptrace.SpanKindClient:
		if f.outbound && f.dest != "" {
			// No server span comes back from a hop the proxy failed (no
			// server was reached), nor from an external host (a dotted name
			// outside the cluster: ServiceEntry, egress).
			failed := f.failure || (f.err && (f.status == 0 || f.status == 502 || f.status == 503 || f.status == 504))
			external := f.destNamespace == "" && strings.Contains(f.dest, ".")
			if !failed && !external {
				t.tree.addOutboundHop(id)
			}
			if source != "" {
				t.edges = appendUnique(t.edges, edgeKey(source, f.dest))
			}
		}
	case ptrace.SpanKindServer:
		if f.inbound {
			t.tree.addInboundServer(id, parent)
		}
	}
}

var edgeSeed = maphash.MakeSeed()

func edgeKey(source, dest string) uint64 {
	var h maphash.Hash
	h.SetSeed(edgeSeed)
	h.WriteString(source)
	h.WriteByte(0)
	h.WriteString(dest)
	return h.Sum64()
}

func appendUnique(s []uint64, v uint64) []uint64 {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}
