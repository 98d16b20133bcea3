// Package decisioncache remembers sampling decisions so that spans arriving
// after their trace was decided follow the decision: a bounded map for kept
// traces (their threshold and rule), and a compact fingerprint set for the
// far more numerous dropped traces (about 8 bytes per trace). Both grow with
// use up to their bound, so a gateway holds memory for the decisions it has
// made, not for the most it may remember.
//
// Neither is safe for concurrent use: the sampler keeps one of each per shard,
// under the shard's lock.
package decisioncache // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/decisioncache"

import (
	"encoding/binary"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Kept is what a late span of a kept trace needs.
type Kept struct {
	// Threshold is the OTEP 235 threshold the trace was kept with.
	Threshold uint64
	// Rule is the rule that kept it.
	Rule string
}

// KeptCache is a FIFO-bounded map of kept traces.
type KeptCache struct {
	entries map[pcommon.TraceID]Kept
	order   []pcommon.TraceID // ring of insertion order, grown up to size
	size    int
	next    int
}

// NewKeptCache remembers up to size traces (at least 1).
func NewKeptCache(size int) *KeptCache {
	return &KeptCache{entries: map[pcommon.TraceID]Kept{}, size: max(size, 1)}
}

// Put remembers a kept trace, forgetting the oldest when full.
func (c *KeptCache) Put(id pcommon.TraceID, k Kept) {
	if _, ok := c.entries[id]; ok {
		c.entries[id] = k
		return
	}
	if len(c.order) < c.size {
		c.order = append(c.order, id)
	} else {
		delete(c.entries, c.order[c.next])
		c.order[c.next] = id
		c.next = (c.next + 1) % len(c.order)
	}
	c.entries[id] = k
}

// Get returns the decision for a kept trace.
func (c *KeptCache) Get(id pcommon.TraceID) (Kept, bool) {
	k, ok := c.entries[id]
	return k, ok
}

// Len is the number of remembered traces.
func (c *KeptCache) Len() int { return len(c.entries) }

// DroppedSet remembers dropped trace ids as 32-bit fingerprints in
// open-addressing tables. The current table takes the new ids; when it is
// half full, a smaller one is kept as it is (a fingerprint does not tell
// its slot in a larger table) and a current table twice its size begins,
// until the current table has its full size (size rounded up to a power of
// two). From then on, a full current table becomes the previous one, and
// everything older is forgotten. With full the full table size, it holds
// between full/2 and full traces in at most 8·full bytes. A lookup of a
// trace that was never added answers true with a probability of about 2^-32
// per probe of each table.
type DroppedSet struct {
	cur  []uint32
	old  [][]uint32 // the previous full-size table, or the smaller ones outgrown
	n    int        // ids in cur
	full int        // slots of a full-size table
}

// minDroppedSlots is the size of the first table.
const minDroppedSlots = 1024

// NewDroppedSet remembers at least size/2 dropped traces (size rounded up
// to a power of two: up to that many).
func NewDroppedSet(size int) *DroppedSet {
	full := 16
	for full < size {
		full <<= 1
	}
	return &DroppedSet{cur: make([]uint32, min(full, minDroppedSlots)), full: full}
}

// fingerprint derives a non-zero 32-bit fingerprint and a slot hash from the
// trace id (already random; mixed in case it is not).
func fingerprint(id pcommon.TraceID) (fp uint32, h uint64) {
	h = binary.LittleEndian.Uint64(id[:8]) ^ binary.LittleEndian.Uint64(id[8:])*0x9e3779b97f4a7c15
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	fp = uint32(h)
	if fp == 0 {
		fp = 1
	}
	return fp, h >> 32
}

// Add remembers a dropped trace.
func (s *DroppedSet) Add(id pcommon.TraceID) {
	fp, h := fingerprint(id)
	if lookup(s.cur, fp, h) {
		return
	}
	if s.n >= len(s.cur)/2 {
		s.rotate()
	}
	mask := uint64(len(s.cur) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		if s.cur[i] == 0 {
			s.cur[i] = fp
			s.n++
			return
		}
	}
}

// rotate starts a new current table: twice the size while it grows, then
// reusing the previous full-size table, whose ids are forgotten.
func (s *DroppedSet) rotate() {
	if len(s.cur) < s.full {
		s.old = append(s.old, s.cur)
		s.cur = make([]uint32, 2*len(s.cur))
	} else {
		prev := s.cur
		if len(s.old) == 1 && len(s.old[0]) == s.full {
			s.cur = s.old[0]
			clear(s.cur)
		} else {
			s.cur = make([]uint32, s.full)
		}
		clear(s.old) // the outgrown tables must not stay reachable past len
		s.old = append(s.old[:0], prev)
	}
	s.n = 0
}

// Contains reports whether the trace was dropped (recently enough).
func (s *DroppedSet) Contains(id pcommon.TraceID) bool {
	fp, h := fingerprint(id)
	if lookup(s.cur, fp, h) {
		return true
	}
	for i := len(s.old) - 1; i >= 0; i-- {
		if lookup(s.old[i], fp, h) {
			return true
		}
	}
	return false
}

func lookup(table []uint32, fp uint32, h uint64) bool {
	mask := uint64(len(table) - 1)
	for i := h & mask; table[i] != 0; i = (i + 1) & mask {
		if table[i] == fp {
			return true
		}
	}
	return false
}

// Bytes is the memory the set holds.
func (s *DroppedSet) Bytes() int {
	n := len(s.cur)
	for _, t := range s.old {
		n += len(t)
	}
	return 4 * n
}
