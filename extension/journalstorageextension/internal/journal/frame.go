package journal

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// A journal file is a sequence of frames, one per batch of writes:
//
//	uint32 little-endian  length of the payload
//	uint32 little-endian  CRC-32C of the payload
//	payload               operations, each
//	                        byte     opSet or opDelete
//	                        uvarint  key length, key
//	                        uvarint  value length, value (opSet only)
//
// A frame is written with one write call and applied whole or not at all:
// on opening, the first frame that is short or fails its checksum ends the
// journal (a write torn by a crash), and what follows it is cut off.
const (
	headerSize = 8

	opSet    byte = 1
	opDelete byte = 2

	// maxPayload bounds a frame, so that a corrupt length cannot make the
	// replay allocate more than this.
	maxPayload = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errCorrupt = errors.New("corrupt frame")

// appendSet appends a set operation to a frame.
func appendSet(frame []byte, key string, value []byte) []byte {
	frame = append(frame, opSet)
	frame = binary.AppendUvarint(frame, uint64(len(key)))
	frame = append(frame, key...)
	frame = binary.AppendUvarint(frame, uint64(len(value)))
	return append(frame, value...)
}

func appendDelete(frame []byte, key string) []byte {
	frame = append(frame, opDelete)
	frame = binary.AppendUvarint(frame, uint64(len(key)))
	return append(frame, key...)
}

// seal writes the header of a frame built after headerSize reserved bytes.
func seal(frame []byte) {
	payload := frame[headerSize:]
	binary.LittleEndian.PutUint32(frame[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(frame[4:], checksum(payload))
}

// walkOps calls fn for each operation of a payload, with the value's start
// in the payload (set only). It checks the whole payload before the first
// call, so that a malformed frame applies nothing.
func walkOps(payload []byte, fn func(op byte, key []byte, valueAt, valueLen int)) error {
	if err := eachOp(payload, nil); err != nil {
		return err
	}
	return eachOp(payload, fn)
}

func eachOp(payload []byte, fn func(op byte, key []byte, valueAt, valueLen int)) error {
	for i := 0; i < len(payload); {
		op := payload[i]
		i++
		key, next, ok := field(payload, i)
		if !ok {
			return errCorrupt
		}
		i = next
		valueAt, valueLen := 0, 0
		switch op {
		case opSet:
			value, next, ok := field(payload, i)
			if !ok {
				return errCorrupt
			}
			valueAt, valueLen = next-len(value), len(value)
			i = next
		case opDelete:
		default:
			return errCorrupt
		}
		if fn != nil {
			fn(op, key, valueAt, valueLen)
		}
	}
	return nil
}

// field reads a uvarint length and that many bytes from b at i.
func field(b []byte, i int) (f []byte, next int, ok bool) {
	n, w := binary.Uvarint(b[i:])
	if w <= 0 || n > uint64(len(b)-i-w) {
		return nil, 0, false
	}
	start := i + w
	return b[start : start+int(n)], start + int(n), true
}

func leUint32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

func checksum(payload []byte) uint32 { return crc32.Checksum(payload, castagnoli) }
