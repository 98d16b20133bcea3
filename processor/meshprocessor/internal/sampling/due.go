package sampling

import (
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// dueIndex tells a tick which complete traces may have settled, so that it
// does not look at every buffered trace: whenever a chunk leaves a trace
// complete, the trace is filed with the time it settles, settle_time after
// that chunk, under the slot (one tick wide) that holds that time. A tick
// takes the entries whose time has come, so a settled trace waits less than
// a tick. Entries go stale when more spans arrive or the trace is decided;
// the tick checks each one against the trace itself, and stale entries are
// gone within settle_time. (Traces that never complete are found by a sweep
// for max_wait, see runTick.) The caller holds the shard's lock.
type dueIndex struct {
	width int64 // slot width, ns
	next  int64 // first slot not yet taken whole
	slots map[int64][]dueEntry
	// taken holds the entries that have come and are not checked yet (a
	// full output ends a tick early).
	taken []pcommon.TraceID
}

type dueEntry struct {
	id pcommon.TraceID
	at int64 // unix ns
}

func newDueIndex(width int64) dueIndex {
	return dueIndex{width: width, slots: map[int64][]dueEntry{}}
}

// add files id as due at unix ns at (an entry for a slot already taken is
// filed under the first one not taken: the next tick takes it).
func (d *dueIndex) add(id pcommon.TraceID, at int64) {
	slot := max(at/d.width, d.next)
	d.slots[slot] = append(d.slots[slot], dueEntry{id, at})
}

// pop returns the next entry due at now.
func (d *dueIndex) pop(now int64) (pcommon.TraceID, bool) {
	if len(d.taken) == 0 {
		d.take(now)
	}
	if len(d.taken) == 0 {
		return pcommon.TraceID{}, false
	}
	id := d.taken[len(d.taken)-1]
	d.taken = d.taken[:len(d.taken)-1]
	return id, true
}

// take moves the entries due at now into taken: those of every slot before
// now's, and those of now's slot whose time has come (the rest stay for the
// next tick).
func (d *dueIndex) take(now int64) {
	cur := now / d.width
	if cur < d.next {
		return
	}
	if cur-d.next < int64(len(d.slots)) {
		for slot := d.next; slot < cur; slot++ {
			d.takeSlot(slot)
		}
	} else { // a long gap (a test clock, a stalled tick): only the filed slots
		var due []int64
		for slot := range d.slots {
			if slot < cur {
				due = append(due, slot)
			}
		}
		slices.Sort(due)
		for _, slot := range due {
			d.takeSlot(slot)
		}
	}
	d.next = cur
	if entries, ok := d.slots[cur]; ok {
		rest := entries[:0]
		for _, e := range entries {
			if e.at <= now {
				d.taken = append(d.taken, e.id)
			} else {
				rest = append(rest, e)
			}
		}
		if len(rest) == 0 {
			delete(d.slots, cur)
		} else {
			d.slots[cur] = rest
		}
	}
}

func (d *dueIndex) takeSlot(slot int64) {
	if entries, ok := d.slots[slot]; ok {
		for _, e := range entries {
			d.taken = append(d.taken, e.id)
		}
		delete(d.slots, slot)
	}
}
