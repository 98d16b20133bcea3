package sampling

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestCheckComplete(t *testing.T) {
	tests := []struct {
		name string
		tr   trace
		want bool
	}{
		{"root only", trace{spanIDs: []uint64{1}, parents: []uint64{0}}, true},
		{"hop matched by parent", trace{spanIDs: []uint64{1, 2, 3}, parents: []uint64{0, 1, 2}, outbound: []uint64{2}, serverParent: []uint64{2}, serverID: []uint64{3}}, true},
		{"hop matched by shared span id", trace{spanIDs: []uint64{1, 2}, parents: []uint64{0, 1}, outbound: []uint64{2}, serverParent: []uint64{1}, serverID: []uint64{2}}, true},
		{"hop unmatched", trace{spanIDs: []uint64{1, 2}, parents: []uint64{0, 1}, outbound: []uint64{2}}, false},
		{"no root yet", trace{spanIDs: []uint64{3}, parents: []uint64{2}, serverParent: []uint64{2}, serverID: []uint64{3}}, false},
		{"a middle part missing", trace{spanIDs: []uint64{1, 5}, parents: []uint64{0, 4}}, false},
		{"two roots", trace{spanIDs: []uint64{1, 2}, parents: []uint64{0, 0}}, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.tr.checkComplete(), tt.name)
	}
	// Big traces use a set: same answers.
	big := trace{}
	for i := uint64(1); i <= 200; i++ {
		big.spanIDs = append(big.spanIDs, i)
		big.parents = append(big.parents, i-1)
	}
	big.outbound = []uint64{100}
	assert.False(t, big.checkComplete())
	big.serverParent = []uint64{100}
	assert.True(t, big.checkComplete())
	assert.Equal(t, uint64(1), big.rootSpanID())
}

func TestRootSpanIDWithoutRoot(t *testing.T) {
	tr := trace{spanIDs: []uint64{7, 8}, parents: []uint64{8, 3}}
	assert.Equal(t, uint64(8), tr.rootSpanID(), "the span whose parent is missing")
}

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	var l limiter
	l.init(2, 0, 100, now)
	assert.True(t, l.allow(false, 5, now))
	assert.True(t, l.allow(false, 5, now))
	assert.False(t, l.allow(false, 5, now), "bucket of 2 traces empty")
	assert.True(t, l.allow(true, 5, now), "protected traces pass")
	for range 10 {
		assert.True(t, l.allow(true, 5, now))
	}
	// The balance is floored at minus one bucket: 2 s of refill (4 tokens)
	// bring it from -2 back to 2.
	assert.True(t, l.allow(false, 5, now.Add(2*time.Second)))

	var unlimited limiter
	unlimited.init(0, 0, 100, now)
	assert.True(t, unlimited.allow(false, 1_000_000, now))

	var spans limiter
	spans.init(0, 10, 50, now)
	assert.True(t, spans.allow(false, 50, now), "the bucket holds the largest trace")
	assert.False(t, spans.allow(false, 1, now))
}
