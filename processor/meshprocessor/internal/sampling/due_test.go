package sampling

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func popAll(d *dueIndex, now int64) []byte {
	var got []byte
	for id, ok := d.pop(now); ok; id, ok = d.pop(now) {
		got = append(got, id[0])
	}
	return got
}

func TestDueIndex(t *testing.T) {
	id := func(b byte) pcommon.TraceID { return pcommon.TraceID{b} }
	d := newDueIndex(20)
	d.add(id(1), 10)  // slot 0 (0-19 ns)
	d.add(id(2), 15)  // slot 0
	d.add(id(3), 21)  // slot 1 (20-39 ns)
	d.add(id(4), 500) // slot 25

	assert.Empty(t, popAll(&d, 9), "nothing is due before its time")
	assert.Equal(t, []byte{1}, popAll(&d, 12), "an entry is due at its time, not at the end of its slot")
	assert.Equal(t, []byte{2}, popAll(&d, 19))
	assert.Empty(t, popAll(&d, 20))
	d.add(id(5), 5) // already past: taken at the next tick
	assert.ElementsMatch(t, []byte{3, 5}, popAll(&d, 45))
	// A gap of many slots takes only what was filed.
	d.add(id(6), 1_000_000)
	assert.Equal(t, []byte{4}, popAll(&d, 999_999))
	assert.Equal(t, []byte{6}, popAll(&d, 1_000_000))
	assert.Empty(t, d.slots)
}

// TestDueIndexNeverEarlyNeverLate: over random times, each entry is popped
// by the first pop at or after its time, and never before.
func TestDueIndexNeverEarlyNeverLate(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 1))
		width := int64(1 + r.IntN(50))
		d := newDueIndex(width)
		due := map[pcommon.TraceID]int64{}
		now := int64(r.IntN(1000))
		for i := range 2000 {
			if r.IntN(3) > 0 {
				var id pcommon.TraceID
				binary.BigEndian.PutUint64(id[:], uint64(i))
				at := now + int64(r.IntN(int(8*width))) - width // some already past
				d.add(id, at)
				due[id] = at
				continue
			}
			now += int64(r.IntN(int(3 * width)))
			var got []pcommon.TraceID
			for id, ok := d.pop(now); ok; id, ok = d.pop(now) {
				got = append(got, id)
			}
			for _, id := range got {
				at, ok := due[id]
				require.True(t, ok, "seed %d: popped twice or never filed", seed)
				require.LessOrEqual(t, at, now, "seed %d: popped before its time", seed)
				delete(due, id)
			}
			for id, at := range due {
				require.Greater(t, at, now, "seed %d: %v due at %d not popped at %d", seed, id, at, now)
			}
		}
	}
}

// TestSettledTraceDecidedWithinATick: a complete trace is decided at the
// first tick at or after settle_time from its last span, not later.
func TestSettledTraceDecidedWithinATick(t *testing.T) {
	set := defaultSettings()
	set.TickInterval = 20 * time.Millisecond
	set.Rules.Baseline = 1
	te := newTestEngine(t, set)
	require.NoError(t, te.Ingest(t.Context(), buildTraces("a", hop(traceID(1, 1), 200)...)))
	te.after(set.SettleTime - time.Millisecond)
	assert.Empty(t, te.sink.kept(), "not settled yet")
	te.after(time.Millisecond)
	assert.Len(t, te.sink.kept(), 3, "decided at the tick it settled")

	// A later chunk that leaves the trace incomplete holds it back from
	// its earlier settle time: that entry is stale.
	id := traceID(2, 2)
	spans := hop(id, 200)
	require.NoError(t, te.Ingest(t.Context(), buildTraces("a", spans[0])))
	require.NoError(t, te.Ingest(t.Context(), buildTraces("a", spans[1])))
	te.after(set.SettleTime)
	assert.Len(t, te.sink.kept(), 3, "an outbound hop without its server span is not complete")
	require.NoError(t, te.Ingest(t.Context(), buildTraces("b", spans[2])))
	te.after(set.SettleTime)
	assert.Len(t, te.sink.kept(), 6)
}
