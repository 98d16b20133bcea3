package decodeguardextension

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

// request returns an OTLP trace request with one span whose attribute
// "deep" nests maps levels deep (the innermost holds a string), plus the
// ordinary attributes of a proxy span.
func request(levels int) ptraceotlp.ExportRequest {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "reviews.bookinfo")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{1})
	sp.SetSpanID(pcommon.SpanID{2})
	sp.SetName("reviews.bookinfo.svc.cluster.local:9080/*")
	sp.Attributes().PutStr("http.url", "http://reviews:9080/reviews/0?x=1")
	sp.Attributes().PutStr("upstream_cluster", "outbound|9080|v2|reviews.bookinfo.svc.cluster.local")
	arr := sp.Attributes().PutEmptySlice("list")
	arr.AppendEmpty().SetStr("a")
	m := sp.Attributes()
	for range levels {
		m = m.PutEmptyMap("deep")
	}
	m.PutStr("leaf", "value")
	return ptraceotlp.NewExportRequestFromTraces(td)
}

// Protobuf: the span's attribute value is at depth 5 and each map level
// adds 3 (KeyValueList, KeyValue, AnyValue); the leaf string's AnyValue
// holds no message. With max_depth 64, 19 levels pass and 20 do not.
func TestProtoDepth(t *testing.T) {
	for levels, want := range map[int]bool{0: false, 1: false, 18: false, 19: false, 20: true, 1000: true} {
		b, err := request(levels).MarshalProto()
		require.NoError(t, err)
		assert.Equal(t, want, protoTooDeep(b, 64), "%d levels", levels)
	}
	b, _ := request(5).MarshalProto()
	assert.False(t, protoTooDeep(b, 5+3*5), "exactly at the limit")
	assert.True(t, protoTooDeep(b, 5+3*5-1), "one below")
}

func TestJSONDepth(t *testing.T) {
	for levels, want := range map[int]bool{0: false, 13: false, 14: true, 500: true} {
		b, err := request(levels).MarshalJSON()
		require.NoError(t, err)
		assert.Equal(t, want, jsonTooDeep(b, 64), "%d levels", levels)
	}
	assert.False(t, jsonTooDeep([]byte(`{"a":"[[[[[[[[\"{{{{"}`), 2), "brackets in strings do not count")
	assert.True(t, jsonTooDeep([]byte(strings.Repeat("[", 3)), 2))
	assert.True(t, jsonTooDeep([]byte(strings.Repeat("]", 100)+strings.Repeat("[", 3)), 2), "stray closing brackets lend no depth")
}

// Not messages: nothing is too deep, and nothing panics.
func TestProtoDepthOnGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, {0x0a}, {0x0a, 0xff}, {0x0a, 0x05, 1}, []byte("GET /productpage HTTP/1.1"), {0x0b, 0x0c}} {
		assert.False(t, protoTooDeep(b, 1), "%q", b)
	}
	// 200 nested length-delimited fields: a message 200 deep.
	b := []byte{}
	for range 200 {
		b = append([]byte{0x0a, byte(len(b))}, b...)
		if len(b) > 120 {
			break
		}
	}
	assert.True(t, protoTooDeep(b, 16))
}

func FuzzProtoDepth(f *testing.F) {
	for _, levels := range []int{0, 3, 25} {
		b, _ := request(levels).MarshalProto()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		deep := protoTooDeep(b, 16)
		// A message at most as deep as its size in bytes allows (2 per level).
		if deep && len(b) < 2*16 {
			t.Fatalf("%d bytes cannot nest 17 messages", len(b))
		}
		// Monotonic in the limit: too deep for 16 is too deep for 8, and
		// fine for 16 is fine for 32.
		if deep && !protoTooDeep(b, 8) {
			t.Fatal("too deep at 16 but not at 8")
		}
		if !deep && protoTooDeep(b, 32) {
			t.Fatal("fine at 16 but too deep at 32")
		}
	})
}

// scanUnpruned is protoTooDeep without skipping the fields too short to nest
// past the limit: protoTooDeep must answer as it does.
func scanUnpruned(b []byte, left int) bool {
	for len(b) > 0 {
		tag, n := varint(b)
		if n == 0 || tag>>3 == 0 {
			return false
		}
		b = b[n:]
		switch tag & 7 {
		case 0:
			if _, n = varint(b); n == 0 {
				return false
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return false
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return false
			}
			b = b[4:]
		case 3, 4:
		case 2:
			v, n := varint(b)
			l := int(v)
			if n == 0 || l < 0 || l > len(b)-n {
				return false
			}
			sub := b[n : n+l]
			b = b[n+l:]
			switch {
			case left == 0:
				if t, n := varint(sub); n > 0 && t>>3 != 0 && t&7 <= 5 {
					return true
				}
			case scanUnpruned(sub, left-1):
				return true
			}
		default:
			return false
		}
	}
	return false
}

// Inputs at every size around the bound: chains of n nested fields around
// a one-byte tag, the shortest that nest n deep, answer as the unpruned
// scan does at every limit.
func TestProtoDepthPruningAtTheBound(t *testing.T) {
	for n := 0; n < 40; n++ {
		b := []byte{0x08} // a tag alone: the shortest start of a message
		for range n {
			b = append([]byte{0x0a, byte(len(b))}, b...)
		}
		for limit := 0; limit < 45; limit++ {
			require.Equal(t, scanUnpruned(b, limit), protoTooDeep(b, limit), "%d levels, limit %d", n, limit)
		}
	}
}

func FuzzProtoDepthAsUnpruned(f *testing.F) {
	for _, levels := range []int{0, 3, 6, 25} {
		b, _ := request(levels).MarshalProto()
		f.Add(b, uint8(16))
	}
	f.Fuzz(func(t *testing.T, b []byte, limit uint8) {
		want := scanUnpruned(b, int(limit%70))
		if got := protoTooDeep(b, int(limit%70)); got != want {
			t.Fatalf("limit %d: pruned scan says %v, unpruned %v", limit%70, got, want)
		}
	})
}

// deepRequest is an OTLP trace request whose span attribute nests maps
// levels deep.
func deepRequest(t testing.TB, levels int) []byte {
	b, err := request(levels).MarshalProto()
	require.NoError(t, err)
	return b
}

// chain is n length-delimited fields (field 1) nested in each other around
// inner; the field at depth garbageAt (1 the outermost) ends with a byte
// that no message can continue with.
func chain(n, garbageAt int, inner []byte) []byte {
	b := inner
	for depth := n; depth >= 1; depth-- {
		if depth == garbageAt {
			b = append(b[:len(b):len(b)], 0xff) // a varint tag cut short
		}
		b = append(lenPrefix(1, len(b)), b...)
	}
	return b
}

// lenPrefix is the tag and length of a length-delimited field.
func lenPrefix(field, n int) []byte {
	return binary.AppendUvarint([]byte{byte(field<<3 | 2)}, uint64(n))
}

// Requests the decoder reads as deep, however the scan is led astray: each
// of these got past the scan before it followed the decoder.
func TestProtoDepthAsTheDecoderReadsIt(t *testing.T) {
	deep := deepRequest(t, 300) // far past max_depth 64

	// A group before the spans: the decoder skips it as an unknown field
	// (15) and decodes the rest; the scan stopped at it.
	grouped := append([]byte{15<<3 | 3, 15<<3 | 4}, deep...)
	require.NoError(t, ptraceotlp.NewExportRequest().UnmarshalProto(grouped))
	assert.True(t, protoTooDeep(grouped, 64), "a group before the spans")

	// An unknown varint field of ten bytes whose last carries bits past 64:
	// the decoder drops them and goes on; encoding/binary's Uvarint called
	// it an overflow, and the scan stopped.
	long := append([]byte{15 << 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, deep...)
	require.NoError(t, ptraceotlp.NewExportRequest().UnmarshalProto(long))
	assert.True(t, protoTooDeep(long, 64), "a ten-byte varint before the spans")

	// 300 nested messages, the one at depth 17 ending with a stray byte:
	// the decoder enters all 300 before it reaches that byte; the scan
	// asked the 17th to be well-formed as a whole, and let it through
	// (FuzzProtoDepth found it: too deep at 16, not at 8).
	for _, at := range []int{1, 9, 16, 17, 18, 100} {
		assert.True(t, protoTooDeep(chain(300, at, []byte{0x08, 0x01}), 16), "a stray byte at depth %d", at)
	}
	// Only where it stops the decoder before the depth does it count.
	assert.False(t, protoTooDeep(append([]byte{0xff}, chain(300, 0, []byte{0x08, 0x01})...), 16), "a stray byte first")
}

// messageDepth is the depth of the deepest message the decoder built for
// req (the request itself at 0; a span's attribute value at 5).
func messageDepth(req ptraceotlp.ExportRequest) int {
	var value func(v pcommon.Value, d int) int // d: the AnyValue's depth
	value = func(v pcommon.Value, d int) int {
		deepest := d
		switch v.Type() {
		case pcommon.ValueTypeMap: // KeyValueList, KeyValue, AnyValue
			deepest = d + 1
			for _, e := range v.Map().All() {
				deepest = max(deepest, value(e, d+3))
			}
		case pcommon.ValueTypeSlice: // ArrayValue, AnyValue
			deepest = d + 1
			for _, e := range v.Slice().All() {
				deepest = max(deepest, value(e, d+2))
			}
		}
		return deepest
	}
	attrs := func(m pcommon.Map, d int) int { // d: the KeyValues' depth
		deepest := 0
		for _, v := range m.All() {
			deepest = max(deepest, value(v, d+1))
		}
		return deepest
	}
	deepest := 0
	for _, rs := range req.Traces().ResourceSpans().All() {
		deepest = max(deepest, 1, attrs(rs.Resource().Attributes(), 3))
		for _, ss := range rs.ScopeSpans().All() {
			deepest = max(deepest, 2, attrs(ss.Scope().Attributes(), 4))
			for _, sp := range ss.Spans().All() {
				deepest = max(deepest, 3, attrs(sp.Attributes(), 4))
				for _, ev := range sp.Events().All() {
					deepest = max(deepest, 4, attrs(ev.Attributes(), 5))
				}
				for _, l := range sp.Links().All() {
					deepest = max(deepest, 4, attrs(l.Attributes(), 5))
				}
			}
		}
	}
	return deepest
}

// What the decoder decodes more than one level past the limit, the scan
// calls too deep.
func FuzzProtoDepthCoversTheDecoder(f *testing.F) {
	for _, levels := range []int{0, 3, 4, 5, 25} {
		b, _ := request(levels).MarshalProto()
		f.Add(b)
		f.Add(append([]byte{15<<3 | 3, 15<<3 | 4}, b...))
		f.Add(append([]byte{15 << 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, b...))
	}
	const limit = 16
	f.Fuzz(func(t *testing.T, b []byte) {
		req := ptraceotlp.NewExportRequest()
		if req.UnmarshalProto(b) != nil {
			return
		}
		if d := messageDepth(req); d > limit+1 && !protoTooDeep(b, limit) {
			t.Fatalf("the decoder built a message %d deep; the scan let it through at %d", d, limit)
		}
	})
}

// BenchmarkProtoDepth scans the OTLP requests a bookinfo Istio mesh sends
// (one proxy's spans of 50 traces per request), with max_depth 64:
//
//	go test -run XXX -bench ProtoDepth -benchmem ./extension/decodeguardextension/
func BenchmarkProtoDepth(b *testing.B) {
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.05, FlagRate: 0.05, Seed: 7, StablePods: true})
	batches := meshgen.NewProxyBatches(50)
	var reqs [][]byte
	spans := 0
	for len(reqs) < 20 {
		for _, e := range batches.Add(g.Next()) {
			raw, err := ptraceotlp.NewExportRequestFromTraces(e.Traces).MarshalProto()
			require.NoError(b, err)
			reqs = append(reqs, raw)
			spans += e.Traces.SpanCount()
		}
	}
	for b.Loop() {
		for _, r := range reqs {
			if protoTooDeep(r, 64) {
				b.Fatal("a proxy's request is not too deep")
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
}

// desyncedJSON is an OTLP/JSON body, not valid JSON, whose span attribute
// nests maps levels deep for pdata's JSON decoder while its brackets never
// nest deeper than 5: a ']' stands where each ':' should be, and a '}'
// after each '['. The decoder records the first error and reads on, taking
// them for what it expected.
func desyncedJSON(levels int) []byte {
	b := []byte(`{"resourceSpans"][}{""scopeSpans"][}{""spans"][}{""attributes"][}`)
	for range levels {
		b = append(b, `{""key"]"k","value"]{""kvlistValue"]{""values"][}`...)
	}
	return b
}

// Why the guard refuses invalid JSON (see checkBody): pdata v1.67's JSON
// decoder nests what the bracket count cannot see.
func TestJSONDecoderReadsPastErrors(t *testing.T) {
	b := desyncedJSON(2000)
	assert.False(t, jsonTooDeep(b, 64), "the brackets never nest deep")
	assert.False(t, json.Valid(b))
	req := ptraceotlp.NewExportRequest()
	require.Error(t, req.UnmarshalJSON(b), "the decoder fails, at the end")
	assert.Greater(t, messageDepth(req), 3*2000, "after nesting the maps 2000 deep")
}

// What the guard lets through as JSON, the decoder does not nest deeper
// than the brackets do, even where it fails: each message it builds takes
// at least one '{'.
func FuzzJSONCoversTheDecoder(f *testing.F) {
	for _, levels := range []int{0, 3, 4, 25} {
		b, _ := request(levels).MarshalJSON()
		f.Add(b)
	}
	f.Add(desyncedJSON(30))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":"x","resource":{"attributes":[{"key":"k","value":{"kvlistValue":{"values":[]}}}]}}]}`))
	g := &guard{maxDepth: 16}
	f.Fuzz(func(t *testing.T, b []byte) {
		if g.checkBody(b, true) != nil {
			return
		}
		req := ptraceotlp.NewExportRequest()
		_ = req.UnmarshalJSON(b)
		if d := messageDepth(req); d > 16 {
			t.Fatalf("the guard let through JSON the decoder nested %d deep", d)
		}
	})
}
