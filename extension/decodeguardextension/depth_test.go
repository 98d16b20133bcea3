package decodeguardextension

import (
	"encoding/binary"
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

// scanUnpruned is scanMessage before it skipped fields too short to nest
// deeper than the limit: it tries every length-delimited field as a
// message. protoTooDeep must answer as it does.
func scanUnpruned(b []byte, left int) (ok, deep bool) {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 || tag>>3 == 0 {
			return false, false
		}
		b = b[n:]
		switch tag & 7 {
		case 0:
			if _, n = binary.Uvarint(b); n <= 0 {
				return false, false
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return false, false
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return false, false
			}
			b = b[4:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return false, false
			}
			sub := b[n : n+int(l)]
			b = b[n+int(l):]
			switch {
			case len(sub) == 0, left < 0:
			case left == 0:
				if subOK, _ := scanUnpruned(sub, -1); subOK {
					return true, true
				}
			default:
				if subOK, subDeep := scanUnpruned(sub, left-1); subOK && subDeep {
					return true, true
				}
			}
		default:
			return false, false
		}
	}
	return true, false
}

// Inputs at every size around the bound: chains of n nested two-byte
// messages, the shortest that nest n deep, answer as the unpruned scan does
// at every limit.
func TestProtoDepthPruningAtTheBound(t *testing.T) {
	for n := 0; n < 40; n++ {
		b := []byte{0x08, 0x00} // the shortest non-empty message
		for range n {
			b = append([]byte{0x0a, byte(len(b))}, b...)
		}
		for limit := 0; limit < 45; limit++ {
			_, want := scanUnpruned(b, limit)
			require.Equal(t, want, protoTooDeep(b, limit), "%d levels, limit %d", n, limit)
		}
	}
}

func FuzzProtoDepthAsUnpruned(f *testing.F) {
	for _, levels := range []int{0, 3, 6, 25} {
		b, _ := request(levels).MarshalProto()
		f.Add(b, uint8(16))
	}
	f.Fuzz(func(t *testing.T, b []byte, limit uint8) {
		_, want := scanUnpruned(b, int(limit%70))
		if got := protoTooDeep(b, int(limit%70)); got != want {
			t.Fatalf("limit %d: pruned scan says %v, unpruned %v", limit%70, got, want)
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
