package decodeguardextension

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
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
