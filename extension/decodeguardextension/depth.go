package decodeguardextension // import "github.com/otelcol-mesh/otelcol-mesh/extension/decodeguardextension"

import "encoding/binary"

// protoTooDeep reports whether b, read as a protobuf message, nests messages
// more than maxDepth levels deep. Without a schema, a length-delimited field
// counts as a message when its bytes parse as one: a string that happens to
// parse can only make the count larger. The scan recurses at most maxDepth
// levels and visits each byte of a well-formed message at most once.
func protoTooDeep(b []byte, maxDepth int) bool {
	_, deep := scanMessage(b, maxDepth)
	return deep
}

// scanMessage parses b as a message whose fields may hold messages nested
// left more levels; it reports whether b is a well-formed message and
// whether something in it nests deeper.
func scanMessage(b []byte, left int) (ok, deep bool) {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 || tag>>3 == 0 {
			return false, false
		}
		b = b[n:]
		switch tag & 7 {
		case 0: // varint
			if _, n = binary.Uvarint(b); n <= 0 {
				return false, false
			}
			b = b[n:]
		case 1: // fixed64
			if len(b) < 8 {
				return false, false
			}
			b = b[8:]
		case 5: // fixed32
			if len(b) < 4 {
				return false, false
			}
			b = b[4:]
		case 2: // bytes, string or message
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return false, false
			}
			sub := b[n : n+int(l)]
			b = b[n+int(l):]
			// Nesting left more levels takes at least 2*left+2 bytes: the
			// innermost message holds a field of two bytes, and each level
			// around it adds a tag and a length. Shorter fields (almost every
			// string and attribute) cannot be too deep, and are not read. At
			// left < 0 only the well-formedness of b is asked.
			if left < 0 || len(sub) < 2*left+2 {
				continue
			}
			if left == 0 {
				if subOK, _ := scanMessage(sub, -1); subOK {
					return true, true // a message one level too deep
				}
				continue
			}
			if subOK, subDeep := scanMessage(sub, left-1); subOK && subDeep {
				return true, true
			}
		default: // groups (deprecated) and invalid wire types
			return false, false
		}
	}
	return true, false
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
		case c == '}' || c == ']':
			depth--
		}
	}
	return false
}
