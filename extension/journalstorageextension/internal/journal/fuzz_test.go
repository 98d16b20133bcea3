package journal

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// FuzzOpen opens arbitrary bytes as a journal of two segments (the input
// split at split): opening never fails or panics on bad content, the
// segments are cut to the whole frames it kept, and a journal reopened
// after one more write holds exactly what the first one held plus it.
func FuzzOpen(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "seed")
	s, err := Open(dir, Options{})
	if err != nil {
		f.Fatal(err)
	}
	var first int64 // the end of the first frame
	for _, b := range [][]*storage.Operation{
		{storage.SetOperation("qmv0", []byte("meta")), storage.SetOperation("0", make([]byte, 2000))},
		{storage.DeleteOperation("0"), storage.SetOperation("qmv0", []byte("meta2"))},
	} {
		if err := s.Batch(ctx, b...); err != nil {
			f.Fatal(err)
		}
		if first == 0 {
			first = s.size()
		}
	}
	s.Close(ctx)
	data, err := os.ReadFile(segmentPath(dir, 1))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data, uint32(len(data)))
	f.Add(data, uint32(first))
	f.Add(data[:first+5], uint32(first))
	f.Add([]byte{}, uint32(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, uint32(4))
	dir = filepath.Join(f.TempDir(), "j")
	f.Fuzz(func(t *testing.T, data []byte, split uint32) {
		require.NoError(t, os.RemoveAll(dir))
		require.NoError(t, os.Mkdir(dir, 0o750))
		at := int(split % uint32(len(data)+1))
		require.NoError(t, os.WriteFile(segmentPath(dir, 1), data[:at], 0o600))
		require.NoError(t, os.WriteFile(segmentPath(dir, 2), data[at:], 0o600))
		s, err := Open(dir, Options{})
		require.NoError(t, err)
		assert.Equal(t, s.size(), diskUsage(t, dir))
		want := contents(t, s)
		require.NoError(t, s.Set(ctx, "after", []byte("x")))
		want["after"] = []byte("x")
		require.NoError(t, s.Close(ctx))

		s, err = Open(dir, Options{})
		require.NoError(t, err)
		defer s.Close(ctx)
		assert.Equal(t, want, contents(t, s))
	})
}
