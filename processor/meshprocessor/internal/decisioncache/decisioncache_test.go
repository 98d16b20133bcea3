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
