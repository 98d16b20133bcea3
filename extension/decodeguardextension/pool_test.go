package decodeguardextension

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
)

func TestBufferPoolTiers(t *testing.T) {
	var p bufferPool
	for _, c := range []struct{ size, wantCap int }{
		{0, 2048}, {1, 2048}, {2048, 2048}, {2049, 4096}, {60 << 10, 64 << 10}, {1 << 20, 1 << 20}, {1<<26 + 1, 1<<26 + 1},
	} {
		b := p.Get(c.size)
		assert.Len(t, *b, c.size)
		assert.Equal(t, c.wantCap, cap(*b), "size %d", c.size)
		p.Put(b)
	}
	var fresh bufferPool
	odd := make([]byte, 3000)
	fresh.Put(&odd) // not a tier's size: dropped, never handed out as a 4 KiB buffer
	assert.Nil(t, fresh.tiers[tier(3000)].Get())
}

// The pool does not zero what it hands out: a request copied into a dirty
// buffer, from several pieces as gRPC receives them, decodes to itself.
func TestCodecDecodesFromDirtyBuffers(t *testing.T) {
	g, _ := newGuard(t)
	c := &codec{guard: g, next: encoding.GetCodecV2("proto")}
	want, err := request(3).MarshalProto()
	require.NoError(t, err)

	dirty := requestBuffers.Get(len(want))
	for i := range *dirty {
		(*dirty)[i] = 0xff
	}
	requestBuffers.Put(dirty)

	var pieces mem.BufferSlice
	for rest := want; len(rest) > 0; {
		n := min(len(rest), 7)
		pieces = append(pieces, mem.SliceBuffer(rest[:n]))
		rest = rest[n:]
	}
	got := ptraceotlp.NewExportRequest()
	require.NoError(t, c.Unmarshal(pieces, &got))
	gotBytes, err := got.MarshalProto()
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, gotBytes), "decoded request differs from the one sent")
}

// BenchmarkMaterialize copies a 60 KiB request, received in 16 KiB frames,
// into one buffer as the codec does: with grpc's default pool (zeroes the
// 1 MiB tier it falls into) and with requestBuffers.
func BenchmarkMaterialize(b *testing.B) {
	data := make([]byte, 60<<10)
	var pieces mem.BufferSlice
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 16<<10)
		pieces = append(pieces, mem.SliceBuffer(rest[:n]))
		rest = rest[n:]
	}
	for _, c := range []struct {
		name string
		pool mem.BufferPool
	}{{"grpc_default", mem.DefaultBufferPool()}, {"request_buffers", &requestBuffers}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				pieces.MaterializeToBuffer(c.pool).Free()
			}
		})
	}
}
