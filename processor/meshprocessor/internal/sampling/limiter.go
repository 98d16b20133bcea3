package sampling

import (
	"sync"
	"time"
)

// limiter is a token bucket on kept traces and spans per second. Protected
// traces (errors, mesh failures) always pass but still spend tokens, so that
// they crowd out the rest first; the balance never falls below minus one
// bucket, so an error storm does not starve the rest for long.
type limiter struct {
	mu                    sync.Mutex
	tracesRate, spansRate float64
	tracesCap, spansCap   float64 // bucket sizes
	traces, spans         float64 // tokens
	last                  time.Time
}

// init sizes the buckets: one second of tokens, at least one trace and one
// span.
func (l *limiter) init(tracesPerSecond, spansPerSecond float64, now time.Time) {
	l.tracesRate, l.spansRate = tracesPerSecond, spansPerSecond
	l.tracesCap = max(tracesPerSecond, 1)
	l.spansCap = max(spansPerSecond, 1)
	l.traces, l.spans = l.tracesCap, l.spansCap
	l.last = now
}

// allow spends the tokens of a trace of the given spans. A trace larger than
// the span bucket passes when the bucket is full (and empties it below
// zero), so that no trace is refused forever.
func (l *limiter) allow(protected bool, spans int, now time.Time) bool {
	if l.tracesRate <= 0 && l.spansRate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if dt := now.Sub(l.last).Seconds(); dt > 0 {
		l.traces = min(l.traces+dt*l.tracesRate, l.tracesCap)
		l.spans = min(l.spans+dt*l.spansRate, l.spansCap)
		l.last = now
	}
	need := min(float64(spans), l.spansCap)
	ok := (l.tracesRate <= 0 || l.traces >= 1) && (l.spansRate <= 0 || l.spans >= need)
	if !ok && !protected {
		return false
	}
	l.traces = max(l.traces-1, -l.tracesCap)
	l.spans = max(l.spans-float64(spans), -l.spansCap)
	return true
}
