package sampling

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// span is one span of a tree in the tables below.
type span struct {
	id, parent uint64
	kind       ptrace.SpanKind
	hop        bool // an outbound client hop that waits for its server span
	server     bool // an inbound server span
}

func build(spans ...span) *structure {
	var s structure
	for _, sp := range spans {
		if !s.add(sp.id, sp.parent, sp.kind) {
			continue
		}
		if sp.hop {
			s.addOutboundHop(sp.id)
		}
		if sp.server {
			s.addInboundServer(sp.id, sp.parent)
		}
	}
	return &s
}

func TestComplete(t *testing.T) {
	client, server := ptrace.SpanKindClient, ptrace.SpanKindServer
	tests := []struct {
		name  string
		spans []span
		want  bool
	}{
		{"root only", []span{{id: 1}}, true},
		{"hop matched by parent", []span{{id: 1}, {id: 2, parent: 1, kind: client, hop: true}, {id: 3, parent: 2, kind: server, server: true}}, true},
		{"server first", []span{{id: 3, parent: 2, kind: server, server: true}, {id: 1}, {id: 2, parent: 1, kind: client, hop: true}}, true},
		{"hop matched by shared span id", []span{{id: 1}, {id: 2, parent: 1, kind: client, hop: true}, {id: 2, parent: 1, kind: server, server: true}}, true},
		{"hop unmatched", []span{{id: 1}, {id: 2, parent: 1, kind: client, hop: true}}, false},
		{"no root yet", []span{{id: 3, parent: 2, kind: server, server: true}}, false},
		{"a middle part missing", []span{{id: 1}, {id: 5, parent: 4}}, false},
		{"two roots", []span{{id: 1}, {id: 2}}, false},
		{"the root delivered twice is one root", []span{{id: 1}, {id: 2, parent: 1}, {id: 1}}, true},
		{"child before parent", []span{{id: 2, parent: 1}, {id: 1}}, true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, build(tt.spans...).complete(), tt.name)
	}
}

// A big trace arriving one span at a time: sets take over from slices, and
// the answers stay the same.
func TestCompleteBigTrace(t *testing.T) {
	var s structure
	for i := uint64(1); i <= 2000; i++ {
		s.add(i, i-1, ptrace.SpanKindInternal)
	}
	s.add(5000, 1000, ptrace.SpanKindClient)
	s.addOutboundHop(5000)
	assert.False(t, s.complete())
	s.add(5001, 5000, ptrace.SpanKindServer)
	s.addInboundServer(5001, 5000)
	assert.True(t, s.complete())
	assert.Equal(t, uint64(1), s.rootSpanID())
	s.add(7, 6, ptrace.SpanKindInternal) // a retry of a known span
	assert.True(t, s.complete())
	assert.Len(t, s.spanIDs, 2002)
}

func TestRootSpanIDWithoutRoot(t *testing.T) {
	s := build(span{id: 7, parent: 8}, span{id: 8, parent: 3})
	assert.Equal(t, uint64(8), s.rootSpanID(), "the span whose parent is missing")
}

func TestIDSet(t *testing.T) {
	var s idSet
	for i := range uint64(100) {
		assert.True(t, s.add(i))
		assert.False(t, s.add(i))
	}
	assert.Equal(t, 100, s.len())
	for i := range uint64(50) {
		s.remove(i)
	}
	assert.Equal(t, 50, s.len())
	assert.False(t, s.has(3))
	assert.True(t, s.has(70))
	assert.GreaterOrEqual(t, s.bytes(), 100*8, "a map keeps the room of its peak")
}

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	var l limiter
	l.init(2, 0, now)
	assert.True(t, l.allow(false, 5, now))
	assert.True(t, l.allow(false, 5, now))
	assert.False(t, l.allow(false, 5, now), "bucket of 2 traces empty")
	assert.True(t, l.allow(true, 5, now), "protected traces pass")
	for range 10 {
		assert.True(t, l.allow(true, 5, now))
	}
	// The balance is floored at minus one bucket: 2 s of refill (4 tokens)
	// bring it from -2 back to 2.
	assert.True(t, l.allow(false, 5, now.Add(2*time.Second)))

	var unlimited limiter
	unlimited.init(0, 0, now)
	assert.True(t, unlimited.allow(false, 1_000_000, now))

	var spans limiter
	spans.init(0, 10, now)
	assert.True(t, spans.allow(false, 50, now), "a full bucket takes a trace larger than itself")
	assert.False(t, spans.allow(false, 1, now), "and is then empty")
	assert.False(t, spans.allow(false, 50, now.Add(time.Second)), "floored at -10, one second of refill leaves 0")
	assert.True(t, spans.allow(false, 50, now.Add(2*time.Second)), "full again: the big trace passes again, not refused forever")
}
