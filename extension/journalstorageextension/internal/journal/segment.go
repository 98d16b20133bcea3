package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A segment is one file of the journal. Frames are appended to the newest
// segment only; a new one is started once it reaches SegmentSize.
type segment struct {
	id   uint64
	f    *os.File
	size int64 // end of its last whole frame
	live int64 // what the live entries stored in it take
}

const segmentExt = ".seg"

func segmentPath(dir string, id uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%016x%s", id, segmentExt))
}

func openSegment(dir string, id uint64) (*segment, error) {
	f, err := os.OpenFile(segmentPath(dir, id), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &segment{id: id, f: f}, nil
}

// segmentIDs lists the segments of dir, oldest first.
func segmentIDs(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ids []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segmentExt)
		if !ok {
			continue
		}
		id, err := strconv.ParseUint(name, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("unexpected file %s in the journal", e.Name())
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// remove deletes the segment's file, then closes it; a segment that cannot
// be deleted stays open and readable.
func (g *segment) remove(dir string) error {
	if err := os.Remove(segmentPath(dir, g.id)); err != nil {
		return err
	}
	return g.f.Close()
}
