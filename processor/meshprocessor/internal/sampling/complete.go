package sampling

import (
	"slices"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// A trace is complete in mesh terms when its spans form one tree under a
// single root (every parent a span references has arrived) and every
// outbound client hop of a proxy has its inbound server span. Hops that
// return no server span are not counted (see observe: failed and external
// hops). structure keeps what that needs up to date as spans arrive, so that
// each span costs O(1) and asking costs nothing, however big the trace.
type structure struct {
	seen     idSet // (span id, kind): a span delivered twice counts once
	ids      idSet // span ids that arrived
	missing  idSet // parents referenced by a span but not arrived
	servers  idSet // parents and ids of inbound server spans
	openHops idSet // outbound client hops without their server span
	roots    int
	rootID   uint64
	// Distinct spans in arrival order, to name a root when none arrived.
	spanIDs, parents []uint64
}

// kindMix spreads the span kind over a span id, so that a client span and the
// server span that shares its id (Envoy's Zipkin shared span context) are two
// spans, while the same span delivered twice is one.
const kindMix = 0x9e3779b97f4a7c15

// add records a span of the tree and reports whether it is new.
func (s *structure) add(id, parent uint64, kind ptrace.SpanKind) bool {
	if !s.seen.add(id ^ uint64(kind)*kindMix) {
		return false
	}
	s.spanIDs = append(s.spanIDs, id)
	s.parents = append(s.parents, parent)
	if s.ids.add(id) {
		s.missing.remove(id)
	}
	switch {
	case parent == 0:
		if s.roots == 0 {
			s.rootID = id
		}
		s.roots++
	case !s.ids.has(parent):
		s.missing.add(parent)
	}
	return true
}

// addOutboundHop records a client hop that waits for its server span.
func (s *structure) addOutboundHop(id uint64) {
	if !s.servers.has(id) {
		s.openHops.add(id)
	}
}

// addInboundServer records a server span: it answers the hop that is its
// parent or, with a shared span context, the hop with its own id.
func (s *structure) addInboundServer(id, parent uint64) {
	s.servers.add(parent)
	s.servers.add(id)
	s.openHops.remove(parent)
	s.openHops.remove(id)
}

func (s *structure) complete() bool {
	return s.roots == 1 && s.missing.len() == 0 && s.openHops.len() == 0
}

// rootSpanID is the span without a parent or, in a trace whose root never
// arrived, the first span whose parent is missing.
func (s *structure) rootSpanID() uint64 {
	if s.roots > 0 {
		return s.rootID
	}
	for i, p := range s.parents {
		if !s.ids.has(p) {
			return s.spanIDs[i]
		}
	}
	return 0
}

func (s *structure) bytes() int {
	return 8*(cap(s.spanIDs)+cap(s.parents)) +
		s.seen.bytes() + s.ids.bytes() + s.missing.bytes() + s.servers.bytes() + s.openHops.bytes()
}

// idSet is a set of span ids: a slice while small (most traces have a
// handful of spans), a map beyond.
type idSet struct {
	small []uint64
	big   map[uint64]struct{}
	peak  int // the map's largest size: maps do not shrink
}

const smallSetMax = 16

func (s *idSet) has(x uint64) bool {
	if s.big != nil {
		_, ok := s.big[x]
		return ok
	}
	return slices.Contains(s.small, x)
}

// add inserts x and reports whether it was new.
func (s *idSet) add(x uint64) bool {
	if s.has(x) {
		return false
	}
	if s.big == nil && len(s.small) < smallSetMax {
		s.small = append(s.small, x)
		return true
	}
	if s.big == nil {
		s.big = make(map[uint64]struct{}, 2*smallSetMax)
		for _, y := range s.small {
			s.big[y] = struct{}{}
		}
		s.small = nil
	}
	s.big[x] = struct{}{}
	s.peak = max(s.peak, len(s.big))
	return true
}

func (s *idSet) remove(x uint64) {
	if s.big != nil {
		delete(s.big, x)
		return
	}
	if i := slices.Index(s.small, x); i >= 0 {
		last := len(s.small) - 1
		s.small[i] = s.small[last]
		s.small = s.small[:last]
	}
}

func (s *idSet) len() int {
	if s.big != nil {
		return len(s.big)
	}
	return len(s.small)
}

// bytes estimates the memory held: 8 per slot of the slice; for the map,
// about 24 per entry at its peak (key, control byte, load factor) plus its header.
func (s *idSet) bytes() int {
	if s.big != nil {
		return 48 + 24*max(s.peak, 2*smallSetMax)
	}
	return 8 * cap(s.small)
}
