package sampling

import (
	"encoding/binary"
	"hash/maphash"
	"strings"

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
	chunks      [][]byte
	bytes       int
	spans       int

	// Structure, for completeness: span ids, their parents, the outbound
	// client hops that wait for their server span, and the parents and ids
	// of inbound server spans (Envoy's Zipkin tracer can share the client's
	// span id with the server span).
	spanIDs, parents                 []uint64
	outbound, serverParent, serverID []uint64

	err, failure, retry, canary, slow bool
	minStart, maxEnd                  uint64
	edges                             []uint64
	attrMatch                         uint64

	randomness uint64
	upstream   threshold.Threshold
	complete   bool
}

func spanKey(id pcommon.SpanID) uint64 { return binary.BigEndian.Uint64(id[:]) }

// memoryOverhead estimates the bytes a trace holds beyond its chunks.
func (t *trace) memoryOverhead() int {
	return 160 + 8*(cap(t.spanIDs)+cap(t.parents)+cap(t.outbound)+cap(t.serverParent)+cap(t.serverID)+cap(t.edges)) + 24*cap(t.chunks)
}

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

	start, end := uint64(span.StartTimestamp()), uint64(span.EndTimestamp())
	if t.minStart == 0 || (start != 0 && start < t.minStart) {
		t.minStart = start
	}
	t.maxEnd = max(t.maxEnd, end)
	if hop := e.rules.hopThreshold(f.dest); hop > 0 && end > start && int64(end-start) >= int64(hop) {
		t.slow = true
	}

	id, parent := spanKey(span.SpanID()), spanKey(span.ParentSpanID())
	t.spanIDs = append(t.spanIDs, id)
	t.parents = append(t.parents, parent)
	switch span.Kind() {
	case ptrace.SpanKindClient:
		if f.outbound && f.dest != "" {
			// No server span comes back from a hop the proxy failed (no
			// server was reached), nor from an external host (a dotted name
			// outside the cluster: ServiceEntry, egress).
			failed := f.failure || (f.err && (f.status == 0 || f.status == 502 || f.status == 503 || f.status == 504))
			external := f.destNamespace == "" && strings.Contains(f.dest, ".")
			if !failed && !external {
				t.outbound = append(t.outbound, id)
			}
			if source != "" {
				t.edges = appendUnique(t.edges, edgeKey(source, f.dest))
			}
		}
	case ptrace.SpanKindServer:
		if f.inbound {
			t.serverParent = append(t.serverParent, parent)
			t.serverID = append(t.serverID, id)
		}
	}
	ts := span.TraceState().AsRaw()
	if t.spans == 0 && len(t.spanIDs) == 1 {
		t.randomness = threshold.Randomness(t.id, ts)
	}
	if up, ok := threshold.Upstream(ts); ok && up > t.upstream {
		t.upstream = up
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
	if contains(s, v) {
		return s
	}
	return append(s, v)
}

// checkComplete: the spans form one tree under the trace's root (the only
// span whose parent is not in the trace is the root, which has no parent)
// and every outbound client hop has its inbound server span.
func (t *trace) checkComplete() bool {
	has := t.spanSet()
	roots := 0
	for _, p := range t.parents {
		if p == 0 {
			roots++
		} else if !has(p) {
			return false // a part of the tree above this span is missing
		}
	}
	if roots != 1 {
		return false
	}
	matched := setOf(t.serverParent, t.serverID)
	for _, hop := range t.outbound {
		if !matched(hop) {
			return false
		}
	}
	return true
}

// spanSet returns a membership test for the trace's span ids.
func (t *trace) spanSet() func(uint64) bool { return setOf(t.spanIDs) }

// setOf returns a membership test for ids: a scan for the usual handful, a
// map for big traces.
func setOf(lists ...[]uint64) func(uint64) bool {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	if n <= 32 {
		return func(id uint64) bool {
			for _, l := range lists {
				if contains(l, id) {
					return true
				}
			}
			return false
		}
	}
	set := make(map[uint64]struct{}, n)
	for _, l := range lists {
		for _, x := range l {
			set[x] = struct{}{}
		}
	}
	return func(id uint64) bool { _, ok := set[id]; return ok }
}

func contains(s []uint64, v uint64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// rootSpanID is the span without a parent or, in a trace whose root never
// arrived, the first span whose parent is missing.
func (t *trace) rootSpanID() uint64 {
	for i, p := range t.parents {
		if p == 0 {
			return t.spanIDs[i]
		}
	}
	has := t.spanSet()
	for i, p := range t.parents {
		if !has(p) {
			return t.spanIDs[i]
		}
	}
	return 0
}
