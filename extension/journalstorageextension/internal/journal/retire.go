package journal

import (
	"go.uber.org/zap"
)

// copyFrame is the payload size at which retiring a segment starts a new
// frame for the live entries it copies.
const copyFrame = 1 << 20

// retire deletes the oldest segments while the journal holds more than
// one and a half times its live data plus a segment, appending their live
// entries again first. Only the oldest segment may go: a later one can hold
// the delete of a key whose set an older one still holds. A run of
// retirements copies the live data at most once, and starts only after at
// least half as many bytes were appended since the previous run: the
// copying is bounded by twice the writing (for a queue, whose oldest
// entries leave first, it is close to nothing).
// A failure (a full disk) is logged and tried again a segment later.
func (s *Store) retire() {
	for len(s.segments) > 1 {
		size, live := s.size(), s.live()
		if size <= live+live/2+s.opts.SegmentSize || size < s.retryAt {
			return
		}
		if err := s.retireOldest(); err != nil {
			s.retryAt = size + s.opts.SegmentSize
			s.opts.Logger.Warn("Journal could not retire its oldest segment; it grows until the next try, a segment later",
				zap.String("path", s.dir), zap.Int64("size", size), zap.Error(err))
			return
		}
	}
}

func (s *Store) retireOldest() error {
	old := s.segments[0]
	if old.live > 0 {
		first := len(s.segments) - 1 // the copies go here and to any segment started after
		if err := s.copyLive(old); err != nil {
			return err
		}
		// The copies reach the disk before the originals go, fsync or
		// not: a crash of the node must not lose entries that were not
		// being written.
		for _, g := range s.segments[first:] {
			if err := g.f.Sync(); err != nil {
				return err
			}
		}
	}
	if err := old.remove(s.dir); err != nil {
		return err
	}
	s.segments = s.segments[1:]
	if s.opts.Fsync {
		syncDir(s.dir)
	}
	return nil
}

// copyLive appends the live entries of segment old again, in frames of
// about copyFrame bytes.
func (s *Store) copyLive(old *segment) error {
	frame := append(s.frame[:0], make([]byte, headerSize)...)
	var buf []byte
	flush := func() error {
		err := s.commit(frame)
		frame = frame[:headerSize]
		return err
	}
	for key, e := range s.index {
		if e.seg != old {
			continue
		}
		value, err := e.value(buf)
		if err != nil {
			return err
		}
		if e.inline == nil {
			buf = value
		}
		frame = appendSet(frame, key, value)
		if len(frame) >= copyFrame {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(frame) > headerSize {
		if err := flush(); err != nil {
			return err
		}
	}
	s.frame = frame
	return nil
}
