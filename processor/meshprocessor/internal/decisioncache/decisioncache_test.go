package decisioncache

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func id(n uint64) pcommon.TraceID {
	var t pcommon.TraceID
	binary.BigEndian.PutUint64(t[8:], n*0x9e3779b97f4a7c15+1)
	binary.BigEndian.PutUint64(t[:8], n)
	return t
}

func TestKeptCacheEvictsOldest(t *testing.T) {
	c := NewKeptCache(3)
	for i := range uint64(5) {
		c.Put(id(i), Kept{Threshold: i, Rule: "baseline"})
	}
	assert.Equal(t, 3, c.Len())
	_, ok := c.Get(id(0))
	assert.False(t, ok)
	_, ok = c.Get(id(1))
	assert.False(t, ok)
	k, ok := c.Get(id(4))
	assert.True(t, ok)
	assert.Equal(t, Kept{Threshold: 4, Rule: "baseline"}, k)
	c.Put(id(4), Kept{Threshold: 9})
	assert.Equal(t, 3, c.Len(), "updating does not evict")
}

func TestDroppedSet(t *testing.T) {
	s := NewDroppedSet(1000) // 1024 slots per generation
	for i := range uint64(512) {
		s.Add(id(i))
	}
	for i := range uint64(512) {
		assert.True(t, s.Contains(id(i)), "trace %d", i)
	}
	// Fill another generation: the first 512 are still remembered (previous),
	// then a third pushes them out.
	for i := uint64(512); i < 1024; i++ {
		s.Add(id(i))
	}
	assert.True(t, s.Contains(id(3)))
	for i := uint64(1024); i < 1600; i++ {
		s.Add(id(i))
	}
	assert.False(t, s.Contains(id(3)), "two generations later")
	assert.True(t, s.Contains(id(1500)))
	assert.Equal(t, 8192, s.Bytes(), "8 bytes per slot pair: a few bytes per trace")

	falsePositives := 0
	for i := uint64(1_000_000); i < 1_100_000; i++ {
		if s.Contains(id(i)) {
			falsePositives++
		}
	}
	assert.LessOrEqual(t, falsePositives, 1)
}

// A set grows with use: it starts small, remembers everything until its
// tables reach full size, and never holds more than 8·size bytes.
func TestDroppedSetGrowsWithUse(t *testing.T) {
	const size = 1 << 16
	s := NewDroppedSet(size)
	assert.Equal(t, 4*minDroppedSlots, s.Bytes(), "empty: one small table")
	for i := range uint64(20_000) {
		s.Add(id(i))
	}
	assert.Less(t, s.Bytes(), 4*size, "20 000 ids take less than one full table")
	for i := range uint64(20_000) {
		assert.True(t, s.Contains(id(i)), "trace %d forgotten while growing", i)
	}
	var peak int
	for i := uint64(20_000); i < 5*size; i++ {
		s.Add(id(i))
		peak = max(peak, s.Bytes())
		if i%(size/4) == 0 {
			// At least the last size/2 are remembered, at every point.
			for j := i + 1 - size/2; j <= i; j += 97 {
				assert.True(t, s.Contains(id(j)), "trace %d forgotten after %d", j, i)
			}
		}
	}
	assert.LessOrEqual(t, peak, 8*size)
	assert.Equal(t, 8*size, s.Bytes(), "at full size: two full tables")
	for _, table := range s.old[len(s.old):cap(s.old)] {
		assert.Nil(t, table, "an outgrown table is still reachable (and never freed)")
	}
	assert.False(t, s.Contains(id(3)), "the oldest are forgotten")

	falsePositives := 0
	for i := uint64(1 << 40); i < 1<<40+100_000; i++ {
		if s.Contains(id(i)) {
			falsePositives++
		}
	}
	assert.LessOrEqual(t, falsePositives, 1)
}

func TestKeptCacheGrowsWithUse(t *testing.T) {
	c := NewKeptCache(1000)
	assert.Zero(t, cap(c.order), "nothing held before the first decision")
	for i := range uint64(1500) {
		c.Put(id(i), Kept{Threshold: i})
		assert.Equal(t, min(int(i)+1, 1000), c.Len())
	}
	_, ok := c.Get(id(499))
	assert.False(t, ok)
	_, ok = c.Get(id(500))
	assert.True(t, ok)
}
