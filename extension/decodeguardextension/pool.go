package decodeguardextension // import "github.com/otelcol-mesh/otelcol-mesh/extension/decodeguardextension"

import (
	"math/bits"
	"sync"
)

// requestBuffers holds the buffers a gRPC request is copied into before the
// scan and the decode: one pool per power of two from 2 KiB to 64 MiB.
//
// grpc's default pool zeroes the whole buffer on every Get and has no tier
// between 32 KiB and 1 MiB, so a 60 KiB request cleared 1 MiB (3 % of the
// gateway's CPU under the benchmark load). These buffers are not zeroed:
// MaterializeToBuffer writes every byte of the length it asks for.
var requestBuffers bufferPool

// The smallest tier is 2 KiB: grpc gives buffers of 1 KiB capacity or less
// back to no pool (mem.IsBelowBufferPoolingThreshold), so smaller tiers
// would never be refilled.
const (
	minBufferBits = 11
	maxBufferBits = 26
)

type bufferPool struct {
	tiers [maxBufferBits - minBufferBits + 1]sync.Pool
}

// tier is the pool index of buffers of at least size bytes, or -1 when
// size is larger than the largest tier (such buffers are not pooled).
func tier(size int) int {
	b := bits.Len(uint(max(size, 1) - 1))
	if b > maxBufferBits {
		return -1
	}
	return max(b, minBufferBits) - minBufferBits
}

func (p *bufferPool) Get(size int) *[]byte {
	t := tier(size)
	if t < 0 {
		b := make([]byte, size)
		return &b
	}
	if b, ok := p.tiers[t].Get().(*[]byte); ok {
		*b = (*b)[:size]
		return b
	}
	b := make([]byte, size, 1<<(t+minBufferBits))
	return &b
}

func (p *bufferPool) Put(b *[]byte) {
	c := cap(*b)
	t := tier(c)
	// Only buffers this pool made (capacity exactly a tier's size) go back.
	if t < 0 || c != 1<<(t+minBufferBits) {
		return
	}
	p.tiers[t].Put(b)
}
