// Package journal is a key-value store kept in append-only files, built for
// the exporters' persistent queue: each request is written once, read once
// and deleted, while a small metadata record is rewritten on every one of
// those steps. Each batch of writes is appended as one checksummed frame, so
// a write costs what it writes and nothing stored beside it is rewritten; an
// index in memory maps each key to its value's place on disk (small values
// are kept in memory too).
//
// The journal is a directory of segments. Once the segments hold more than
// one and a half times the live data (plus one segment), the oldest is
// retired: its live entries are appended again and its file is deleted.
// For a queue, whose oldest entries leave first, that rarely copies
// anything, and the disk used stays within one and a half times the
// queue's contents plus a segment and a batch.
package journal // import "github.com/otelcol-mesh/otelcol-mesh/extension/journalstorageextension/internal/journal"

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"
)

const (
	// inlineMax: values up to this size are also kept in memory. The queue's
	// metadata record is read and rewritten with every request.
	inlineMax = 1024
	// entryOverhead approximates a live entry's bytes in a frame beside its
	// key and value (operation byte, lengths, its share of a header).
	entryOverhead = 16
	// DefaultSegmentSize is the size from which a new segment is started.
	DefaultSegmentSize = 16 << 20
)

// Options set how a Store writes.
type Options struct {
	// Fsync waits for the disk after each batch; without it a write is in
	// the kernel's page cache when Batch returns, which a crash of the
	// process does not lose.
	Fsync bool
	// SegmentSize: a new segment is started once the newest reaches it;
	// 0 means DefaultSegmentSize.
	SegmentSize int64
	Logger      *zap.Logger
}

type entry struct {
	seg    *segment
	at     int64  // the value's offset in the segment
	n      int    // the value's length
	inline []byte // the value, when n <= inlineMax
}

func (e entry) cost(key string) int64 { return int64(len(key) + e.n + entryOverhead) }

// Store is a journal opened by one owner (a lock file keeps other processes
// and components out). It implements storage.Client.
type Store struct {
	mu       sync.Mutex
	dir      string
	opts     Options
	lock     *os.File   // nil once closed
	segments []*segment // oldest first; the last one is appended to
	index    map[string]entry
	frame    []byte // reused to build frames
	retryAt  int64  // after a failed retirement, the size from which to try again
}

var _ storage.Client = (*Store)(nil)

var errClosed = errors.New("journal is closed")

// Open opens or creates the journal in directory dir. A torn or corrupt
// frame ends the journal: it and what follows it are cut off, with a
// warning that says how many bytes were dropped.
func Open(dir string, opts Options) (*Store, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if err := os.Mkdir(dir, 0o750); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		return nil, fmt.Errorf("journal %s is in use by another process or component: %w", dir, err)
	}
	s := &Store{dir: dir, opts: opts, lock: lock, index: map[string]entry{}}
	if err := s.replay(); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	return s, nil
}

// replay rebuilds the index from the segments, oldest first. The first
// frame that is short or corrupt ends the journal: its segment is cut
// there and later segments are deleted.
func (s *Store) replay() error {
	ids, err := segmentIDs(s.dir)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		ids = []uint64{1}
	}
	var dropped int64
	for i, id := range ids {
		g, err := openSegment(s.dir, id)
		if err != nil {
			return err
		}
		s.segments = append(s.segments, g)
		end, err := s.replaySegment(g)
		if err != nil {
			return err
		}
		if g.size == end {
			continue
		}
		dropped += end - g.size
		if err := g.f.Truncate(g.size); err != nil {
			return err
		}
		for _, later := range ids[i+1:] {
			path := segmentPath(s.dir, later)
			if info, err := os.Stat(path); err == nil {
				dropped += info.Size()
			}
			if err := os.Remove(path); err != nil {
				return err
			}
		}
		break
	}
	if dropped > 0 {
		s.opts.Logger.Warn("Journal ends in a torn or corrupt frame (a write cut short by a crash); what follows the last whole frame is dropped",
			zap.String("path", s.dir), zap.Int64("kept_bytes", s.size()), zap.Int64("dropped_bytes", dropped))
	}
	return nil
}

// replaySegment enters a segment's whole frames into the index, sets its
// size to the end of the last of them, and returns the file's size.
func (s *Store) replaySegment(g *segment) (int64, error) {
	info, err := g.f.Stat()
	if err != nil {
		return 0, err
	}
	end := info.Size()
	r := bufio.NewReaderSize(io.NewSectionReader(g.f, 0, end), 1<<20)
	header := make([]byte, headerSize)
	var payload []byte
	for g.size < end {
		if _, err := io.ReadFull(r, header); err != nil {
			if torn(err) {
				break
			}
			return 0, err
		}
		n := int64(leUint32(header[0:]))
		if n > maxPayload || n > end-g.size-headerSize {
			break
		}
		if int64(cap(payload)) < n {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			if torn(err) {
				break
			}
			return 0, err
		}
		if checksum(payload) != leUint32(header[4:]) || s.apply(g, payload) != nil {
			break
		}
		g.size += headerSize + n
	}
	return end, nil
}

// torn tells a short read (the file ends inside a frame) from a failure to
// read, which must not be taken for one: it would cut off good frames.
func torn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// apply enters the operations of a frame, appended at the end of segment g,
// into the index.
func (s *Store) apply(g *segment, payload []byte) error {
	return walkOps(payload, func(op byte, key []byte, valueAt, valueLen int) {
		if old, ok := s.index[string(key)]; ok {
			old.seg.live -= old.cost(string(key))
		}
		if op == opDelete {
			delete(s.index, string(key))
			return
		}
		e := entry{seg: g, at: g.size + headerSize + int64(valueAt), n: valueLen}
		if valueLen <= inlineMax {
			e.inline = append(make([]byte, 0, valueLen), payload[valueAt:valueAt+valueLen]...)
		}
		k := string(key)
		s.index[k] = e
		g.live += e.cost(k)
	})
}

// size is the bytes of all segments; live what their live entries take
// (approximately).
func (s *Store) size() (n int64) {
	for _, g := range s.segments {
		n += g.size
	}
	return n
}

func (s *Store) live() (n int64) {
	for _, g := range s.segments {
		n += g.live
	}
	return n
}

// Get returns the value of key, or nil if there is none.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	op := storage.GetOperation(key)
	err := s.Batch(ctx, op)
	return op.Value, err
}

// Set stores value under key.
func (s *Store) Set(ctx context.Context, key string, value []byte) error {
	return s.Batch(ctx, storage.SetOperation(key, value))
}

// Delete removes key.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.Batch(ctx, storage.DeleteOperation(key))
}

// Batch runs ops in order: a Get sees the Sets and Deletes before it. The
// writes are appended as one frame: after a crash, all of them are there or
// none.
func (s *Store) Batch(ctx context.Context, ops ...*storage.Operation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return errClosed
	}
	frame := append(s.frame[:0], make([]byte, headerSize)...)
	for i, op := range ops {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch op.Type {
		case storage.Get:
			v, err := s.read(ops[:i], op.Key)
			if err != nil {
				return err
			}
			op.Value = v
		case storage.Set:
			frame = appendSet(frame, op.Key, op.Value)
		case storage.Delete:
			frame = appendDelete(frame, op.Key)
		default:
			return fmt.Errorf("journal: unknown operation type %d", op.Type)
		}
	}
	s.frame = frame
	if len(frame) == headerSize {
		return nil
	}
	if err := s.commit(frame); err != nil {
		return err
	}
	s.retire()
	return nil
}

// read returns a copy of key's value as the operations before it in the
// batch left it.
func (s *Store) read(before []*storage.Operation, key string) ([]byte, error) {
	for i := len(before) - 1; i >= 0; i-- {
		switch op := before[i]; {
		case op.Key != key || op.Type == storage.Get:
		case op.Type == storage.Delete:
			return nil, nil
		default:
			return append(make([]byte, 0, len(op.Value)), op.Value...), nil
		}
	}
	e, ok := s.index[key]
	if !ok {
		return nil, nil
	}
	if e.inline != nil {
		return append(make([]byte, 0, e.n), e.inline...), nil
	}
	v, err := e.value(nil)
	if err != nil {
		return nil, fmt.Errorf("journal %s: reading %q: %w", s.dir, key, err)
	}
	return v, nil
}

// value returns the entry's value: the one kept in memory, or the one on
// disk read into buf (grown as needed).
func (e entry) value(buf []byte) ([]byte, error) {
	if e.inline != nil {
		return e.inline, nil
	}
	buf = slices.Grow(buf[:0], e.n)[:e.n]
	_, err := e.seg.f.ReadAt(buf, e.at)
	return buf, err
}

// commit appends a frame to the newest segment, starting a new one first
// if it is full, and enters the frame into the index.
func (s *Store) commit(frame []byte) error {
	if len(frame)-headerSize > maxPayload {
		return fmt.Errorf("journal: a batch of %d bytes is larger than %d", len(frame)-headerSize, maxPayload)
	}
	g := s.segments[len(s.segments)-1]
	if g.size >= s.opts.SegmentSize {
		next, err := s.startSegment(g.id + 1)
		if err != nil {
			return fmt.Errorf("journal %s: %w", s.dir, err)
		}
		g = next
	}
	seal(frame)
	if err := s.write(g, frame); err != nil {
		// Cut off what was written of the frame: left in place, it would
		// end the journal at the next opening, dropping later frames.
		_ = g.f.Truncate(g.size)
		return fmt.Errorf("journal %s: %w", s.dir, err)
	}
	if err := s.apply(g, frame[headerSize:]); err != nil {
		return fmt.Errorf("journal: a frame it built does not decode: %w", err)
	}
	g.size += int64(len(frame))
	return nil
}

func (s *Store) write(g *segment, frame []byte) error {
	if _, err := g.f.WriteAt(frame, g.size); err != nil {
		return err
	}
	if s.opts.Fsync {
		return g.f.Sync()
	}
	return nil
}

// startSegment creates the segment that frames are appended to from now.
func (s *Store) startSegment(id uint64) (*segment, error) {
	g, err := openSegment(s.dir, id)
	if err != nil {
		return nil, err
	}
	if s.opts.Fsync {
		syncDir(s.dir)
	}
	s.segments = append(s.segments, g)
	return g, nil
}

// Size returns the bytes of the journal's segments, and false once it is
// closed.
func (s *Store) Size() (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size(), s.lock != nil
}

// Close closes the journal; later calls return an error, a second Close
// nothing.
func (s *Store) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return nil
	}
	err := s.closeFiles()
	s.index, s.frame = nil, nil
	return err
}

func (s *Store) closeFiles() error {
	var errs []error
	for _, g := range s.segments {
		errs = append(errs, g.f.Close())
	}
	errs = append(errs, s.lock.Close())
	s.segments, s.lock = nil, nil
	return errors.Join(errs...)
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
