package journal

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

var ctx = context.Background()

func open(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close(ctx) })
	return s
}

func get(t *testing.T, s *Store, key string) []byte {
	t.Helper()
	v, err := s.Get(ctx, key)
	require.NoError(t, err)
	return v
}

func TestMapSemantics(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "j"), Options{})
	assert.Nil(t, get(t, s, "missing"))
	require.NoError(t, s.Delete(ctx, "missing"))

	big := bytes.Repeat([]byte("x"), 5000) // read from the file, not kept in memory
	require.NoError(t, s.Set(ctx, "small", []byte("v1")))
	require.NoError(t, s.Set(ctx, "big", big))
	require.NoError(t, s.Set(ctx, "empty", nil))
	assert.Equal(t, []byte("v1"), get(t, s, "small"))
	assert.Equal(t, big, get(t, s, "big"))
	assert.Equal(t, []byte{}, get(t, s, "empty"), "a key set to nothing is there, empty")

	require.NoError(t, s.Set(ctx, "small", []byte("v2")))
	assert.Equal(t, []byte("v2"), get(t, s, "small"))
	require.NoError(t, s.Delete(ctx, "big"))
	assert.Nil(t, get(t, s, "big"))

	// Values returned are copies.
	v := get(t, s, "small")
	v[0] = 'X'
	assert.Equal(t, []byte("v2"), get(t, s, "small"))
}

func TestBatchGetSeesEarlierOperations(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "j"), Options{})
	require.NoError(t, s.Set(ctx, "a", []byte("old")))
	before, set, afterSet, del, afterDel := storage.GetOperation("a"), storage.SetOperation("a", []byte("new")),
		storage.GetOperation("a"), storage.DeleteOperation("a"), storage.GetOperation("a")
	require.NoError(t, s.Batch(ctx, before, set, afterSet, del, afterDel))
	assert.Equal(t, []byte("old"), before.Value)
	assert.Equal(t, []byte("new"), afterSet.Value)
	assert.Nil(t, afterDel.Value)
	assert.Nil(t, get(t, s, "a"))

	bad := &storage.Operation{Key: "a", Type: storage.OpType(9)}
	assert.ErrorContains(t, s.Batch(ctx, bad), "unknown operation type 9")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, s.Set(cancelled, "a", []byte("x")), context.Canceled)
	assert.Nil(t, get(t, s, "a"), "a cancelled batch writes nothing")
}

func TestReopenKeepsWhatWasWritten(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	s, err := Open(dir, Options{Fsync: true, SegmentSize: 1000})
	require.NoError(t, err)
	big := bytes.Repeat([]byte("y"), 70_000)
	require.NoError(t, s.Batch(ctx, storage.SetOperation("meta", []byte("m1")), storage.SetOperation("0", big)))
	require.NoError(t, s.Batch(ctx, storage.SetOperation("meta", []byte("m2")), storage.SetOperation("1", []byte("one"))))
	require.NoError(t, s.Batch(ctx, storage.SetOperation("meta", []byte("m3")), storage.DeleteOperation("1")))
	assert.Len(t, s.segments, 2, "a segment is started once the last one holds SegmentSize")
	require.NoError(t, s.Close(ctx))
	require.NoError(t, s.Close(ctx), "a second Close does nothing")
	assert.ErrorIs(t, s.Set(ctx, "a", nil), errClosed)

	s = open(t, dir, Options{})
	assert.Equal(t, []byte("m3"), get(t, s, "meta"))
	assert.Equal(t, big, get(t, s, "0"))
	assert.Nil(t, get(t, s, "1"))
}

func TestOneOwnerAtATime(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	s := open(t, dir, Options{})
	_, err := Open(dir, Options{})
	require.ErrorContains(t, err, "is in use by another process or component")
	require.NoError(t, s.Close(ctx))
	open(t, dir, Options{})
}

// write runs batches on a new journal in dir and returns the newest
// segment's size after each.
func write(t *testing.T, dir string, opts Options, batches ...[]*storage.Operation) []int64 {
	t.Helper()
	s, err := Open(dir, opts)
	require.NoError(t, err)
	var ends []int64
	for _, b := range batches {
		require.NoError(t, s.Batch(ctx, b...))
		ends = append(ends, s.segments[len(s.segments)-1].size)
	}
	require.NoError(t, s.Close(ctx))
	return ends
}

func TestTornTailIsCutOffWithAWarning(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	ends := write(t, dir, Options{},
		[]*storage.Operation{storage.SetOperation("a", []byte("1"))},
		[]*storage.Operation{storage.SetOperation("b", bytes.Repeat([]byte("2"), 3000)), storage.SetOperation("a", []byte("3"))})
	// A crash in the middle of the second write: both its operations are lost.
	seg := segmentPath(dir, 1)
	require.NoError(t, os.Truncate(seg, ends[1]-10))
	core, logs := observer.New(zap.WarnLevel)
	s := open(t, dir, Options{Logger: zap.New(core)})
	assert.Equal(t, []byte("1"), get(t, s, "a"))
	assert.Nil(t, get(t, s, "b"))
	require.Equal(t, 1, logs.Len())
	assert.Equal(t, ends[1]-10-ends[0], logs.All()[0].ContextMap()["dropped_bytes"])
	info, err := os.Stat(seg)
	require.NoError(t, err)
	assert.Equal(t, ends[0], info.Size(), "the torn frame is cut off")

	// Writes after it survive the next opening.
	require.NoError(t, s.Set(ctx, "c", []byte("4")))
	require.NoError(t, s.Close(ctx))
	s = open(t, dir, Options{})
	assert.Equal(t, []byte("4"), get(t, s, "c"))
	assert.Equal(t, []byte("1"), get(t, s, "a"))
}

func TestCorruptFrameEndsTheJournal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	ends := write(t, dir, Options{SegmentSize: 30},
		[]*storage.Operation{storage.SetOperation("a", []byte("1"))},
		[]*storage.Operation{storage.SetOperation("b", []byte("2"))},
		[]*storage.Operation{storage.SetOperation("c", bytes.Repeat([]byte("3"), 40))}, // in segment 2
	)
	seg := segmentPath(dir, 1)
	data, err := os.ReadFile(seg)
	require.NoError(t, err)
	data[ends[0]+headerSize+3] ^= 0xff // inside b's frame: its checksum fails
	require.NoError(t, os.WriteFile(seg, data, 0o600))
	s := open(t, dir, Options{})
	assert.Equal(t, []byte("1"), get(t, s, "a"))
	assert.Nil(t, get(t, s, "b"))
	assert.Nil(t, get(t, s, "c"), "frames after a corrupt one are dropped: their order is not known to be intact")
	_, err = os.Stat(segmentPath(dir, 2))
	assert.ErrorIs(t, err, os.ErrNotExist, "later segments are deleted")
}

func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var n int64
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(t, err)
		n += info.Size()
	}
	return n
}

// TestRetirementBoundsTheDisk runs the persistent queue's pattern (offer,
// read, done of requests; the metadata rewritten at each step), with one
// request that stays (a request retried for long), through a journal of
// small segments: the disk used stays within one and a half times the live
// data plus two segments, and reopening gives the same data.
func TestRetirementBoundsTheDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	const segmentSize = 64 << 10
	s, err := Open(dir, Options{SegmentSize: segmentSize})
	require.NoError(t, err)
	request := bytes.Repeat([]byte("r"), 20_000)
	require.NoError(t, s.Set(ctx, "stays", request))
	for i := range 500 {
		key := fmt.Sprint(i)
		require.NoError(t, s.Batch(ctx, storage.SetOperation("qmv0", []byte(key)), storage.SetOperation(key, request)))
		if i >= 3 { // three requests in flight
			done := fmt.Sprint(i - 3)
			require.NoError(t, s.Batch(ctx, storage.SetOperation("qmv0", []byte(key)), storage.DeleteOperation(done)))
		}
		assert.LessOrEqual(t, diskUsage(t, dir), s.live()+s.live()/2+2*segmentSize)
	}
	assert.Equal(t, s.size(), diskUsage(t, dir))
	assert.Greater(t, retired(s), uint64(100))
	require.NoError(t, s.Close(ctx))

	s = open(t, dir, Options{SegmentSize: segmentSize})
	assert.Len(t, s.index, 5)
	assert.Equal(t, []byte("499"), get(t, s, "qmv0"))
	for _, key := range []string{"stays", "497", "498", "499"} {
		assert.Equal(t, request, get(t, s, key))
	}
	assert.Nil(t, get(t, s, "496"))
}

// TestModelUnderCrashes is a property test: random batches on small
// segments (so segments are started and retired), reopenings, and crashes
// simulated by copying the journal with its newest segment cut at a random
// byte of the frame being written. The copy opens to exactly the state
// before that batch; the journal itself always holds the model's state.
func TestModelUnderCrashes(t *testing.T) {
	anyRetired := false
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			root := t.TempDir()
			dir := filepath.Join(root, "j")
			opts := Options{SegmentSize: int64(1 + rng.IntN(32<<10))}
			s, err := Open(dir, opts)
			require.NoError(t, err)
			model := map[string][]byte{}
			for range 300 {
				ops := randomBatch(rng)
				last := s.segments[len(s.segments)-1]
				lastID, lastSize, retiredBefore := last.id, last.size, retired(s)
				require.NoError(t, s.Batch(ctx, ops...))
				want := clone(model)
				for _, op := range ops {
					switch op.Type {
					case storage.Set:
						want[op.Key] = append([]byte{}, op.Value...)
					case storage.Delete:
						delete(want, op.Key)
					}
				}
				active := s.segments[len(s.segments)-1]
				frameAt := lastSize
				if active.id != lastID {
					frameAt = 0
				}
				if rng.IntN(8) == 0 && retired(s) == retiredBefore && active.size > frameAt {
					crashed := filepath.Join(root, "crashed")
					require.NoError(t, os.RemoveAll(crashed))
					copyDir(t, dir, crashed)
					require.NoError(t, os.Truncate(segmentPath(crashed, active.id), frameAt+rng.Int64N(active.size-frameAt)))
					c, err := Open(crashed, opts)
					require.NoError(t, err)
					assert.Equal(t, model, contents(t, c))
					require.NoError(t, c.Close(ctx))
				}
				model = want
				if rng.IntN(50) == 0 {
					require.NoError(t, s.Close(ctx))
					s, err = Open(dir, opts)
					require.NoError(t, err)
				}
			}
			assert.Equal(t, model, contents(t, s))
			assert.Equal(t, s.size(), diskUsage(t, dir))
			anyRetired = anyRetired || retired(s) > 0
			require.NoError(t, s.Close(ctx))
		})
	}
	assert.True(t, anyRetired, "no run retired a segment")
}

func randomBatch(rng *rand.Rand) []*storage.Operation {
	ops := make([]*storage.Operation, 1+rng.IntN(4))
	for i := range ops {
		key := fmt.Sprint(rng.IntN(12))
		switch rng.IntN(3) {
		case 0:
			ops[i] = storage.GetOperation(key)
		case 1:
			value := make([]byte, rng.IntN(3000))
			for j := range value {
				value[j] = byte(rng.IntN(256))
			}
			ops[i] = storage.SetOperation(key, value)
		default:
			ops[i] = storage.DeleteOperation(key)
		}
	}
	return ops
}

func clone(m map[string][]byte) map[string][]byte {
	c := make(map[string][]byte, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func contents(t *testing.T, s *Store) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for key := range s.index {
		m[key] = get(t, s, key)
	}
	return m
}

// copyDir copies the segments of a journal (not its lock).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	require.NoError(t, os.Mkdir(to, 0o750))
	ids, err := segmentIDs(from)
	require.NoError(t, err)
	for _, id := range ids {
		data, err := os.ReadFile(segmentPath(from, id))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(segmentPath(to, id), data, 0o600))
	}
}

// retired is how many segments the journal has retired since it was
// created: segment ids start at 1, only retirement removes the oldest
// segment, and ids are never reused below the newest.
func retired(s *Store) uint64 { return s.segments[0].id - 1 }
