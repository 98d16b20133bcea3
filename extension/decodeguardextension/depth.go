package decodeguardextension // import "github.com/otelcol-mesh/otelcol-mesh/extension/decodeguardextension"

// protoTooDeep reports whether b, read as a protobuf message, could make
// the collector's decoder nest messages more than maxDepth levels deep.
//
// Without a schema, any length-delimited field may be a message. The scan
// follows the decoder (pdata's generated code): it reads fields in order and
// stops where the decoder would stop with an error, and it goes on wherever
// the decoder goes on (groups, which the decoder skips as unknown fields;
// varints as long as the decoder reads them). A field nested maxDepth+1
// levels deep counts as a message when it starts with a valid tag: the
// decoder enters it whatever follows, and a valid first field is all it
// needs to nest further. A string that happens to look like a message can
// only make the answer "too deep"; the decoder never nests deeper than
// maxDepth+1 levels in what the scan lets through.
//
// The scan recurses at most maxDepth levels and visits each byte at most
// once.
func protoTooDeep(b []byte, maxDepth int) bool {
	for len(b) > 0 {
		tag, n := varint(b)
		if n == 0 || tag>>3 == 0 {
			return false // the decoder stops here too
		}
		b = b[n:]
		switch tag & 7 {
		case 0: // varint
			if _, n = varint(b); n == 0 {
				return false
			}
			b = b[n:]
		case 1: // fixed64
			if len(b) < 8 {
				return false
			}
			b = b[8:]
		case 5: // fixed32
			if len(b) < 4 {
				return false
			}
			b = b[4:]
		case 3, 4: // group start and end: skipped as unknown fields, tag by tag
		case 2: // bytes, string or message
			// The length as the decoder converts it (on 32-bit platforms,
			// int keeps the low bits).
			v, n := varint(b)
			l := int(v)
			if n == 0 || l < 0 || l > len(b)-n {
				return false
			}
			sub := b[n : n+l]
			b = b[n+l:]
			// To nest more than maxDepth-1 levels below it, sub needs at
			// least 2*maxDepth+1 bytes: a tag at the bottom, and a tag and
			// a length for each level around it. Shorter fields (almost
			// every string and attribute) cannot be too deep and are not
			// read.
			if len(sub) < 2*maxDepth+1 {
				continue
			}
			if maxDepth == 0 {
				if t, n := varint(sub); n > 0 && t>>3 != 0 && t&7 <= 5 {
					return true // a message one level too deep
				}
				continue
			}
			if protoTooDeep(sub, maxDepth-1) {
				return true
			}
		default: // wire types 6 and 7: the decoder stops
			return false
		}
	}
	return false
}

// varint reads a varint as the decoder does (up to ten bytes, the bits past
// 64 dropped) and returns it with its length, or a length of 0 when b ends
// first or the varint runs past ten bytes.
func varint(b []byte) (uint64, int) {
	var x uint64
	for i := 0; i < 10 && i < len(b); i++ {
		x |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return x, i + 1
		}
	}
	return 0, 0
}

// jsonTooDeep reports whether JSON text nests objects and arrays more than
// maxDepth levels deep (brackets inside strings do not count).
func jsonTooDeep(b []byte, maxDepth int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > maxDepth {
				return true
			}
		case (c == '}' || c == ']') && depth > 0:
			// Not below zero: stray closing brackets must not lend depth to
			// the opening ones after them.
			depth--
		}
	}
	return false
}
