package sampling

import (
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// dueIndex tells a tick which complete traces may have settled, so that it
// does not look at every buffered trace: whenever a chunk leaves a trace
// complete, the trace is filed under the slot (one tick wide) of the time it
// settles, settle_time after that chunk. Entries go stale when more spans
// arrive or the trace is decided; the tick checks each one against the trace
// itself, and stale entries are gone within settle_time. (Traces that never
// complete are found by a sweep for max_wait, see runTick.) The caller holds
// the shard's lock.
type dueIndex struct {
	width int64 // slot width, ns
	next  int64 // first slot not yet taken
	slots map[int64][]pcommon.TraceID
	// taken holds the entries of the slots that have come and are not
	// checked yet (a full output ends a tick early).
	taken []pcommon.TraceID
}

func newDueIndex(width int64) dueIndex {
	return dueIndex{width: width, slots: map[int64][]pcommon.TraceID{}}
}

// add files id as due at unix ns at (entries for past slots are taken at
// the next tick).
func (d *dueIndex) add(id pcommon.TraceID, at int64) {
	slot := max((at+d.width-1)/d.width, d.next)
	d.slots[slot] = append(d.slots[slot], id)
}

// pop returns the next entry due at now.
func (d *dueIndex) pop(now int64) (pcommon.TraceID, bool) {
	if len(d.taken) == 0 {
		d.take(now / d.width)
	}
	if len(d.taken) == 0 {
		return pcommon.TraceID{}, false
	}
	id := d.taken[len(d.taken)-1]
	d.taken = d.taken[:len(d.taken)-1]
	return id, true
}

// take moves the entries of every slot up to last into taken.
func (d *dueIndex) take(last int64) {
	if last < d.next {
		return
	}
	if last-d.next < int64(len(d.slots)) {
		for slot := d.next; slot <= last; slot++ {
			d.takeSlot(slot)
		}
	} else { // a long gap (a test clock, a stalled tick): only the filed slots
		var due []int64
		for slot := range d.slots {
			if slot <= last {
				due = append(due, slot)
			}
		}
		slices.Sort(due)
		for _, slot := range due {
			d.takeSlot(slot)
		}
	}
	d.next = last + 1
}

func (d *dueIndex) takeSlot(slot int64) {
	if ids, ok := d.slots[slot]; ok {
		d.taken = append(d.taken, ids...)
		delete(d.slots, slot)
	}
}
