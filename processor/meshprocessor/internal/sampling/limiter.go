package sampling

import (
	"sync"
	"time"
)

// limiter is a token bucket on kept traces and spans per second. Protected
// decisions (errors, mesh failures) always pass but still spend tokens, so
// that they crowd out the rest first.
type limiter struct {
	mu                  sync.Mutex
	tracesRate, spsRate float64
	traces, spans       float64 // tokens
	last                time.Time
}

func (l *limiter) init(tracesPerSecond, spansPerSecond float64, now time.Time) {
	l.tracesRate, l.spsRate = tracesPerSecond, spansPerSecond
	l.traces, l.spans = tracesPerSecond, spansPerSecond
	l.last = now
}

func (l *limiter) allow(protected bool, spans int, now time.Time) bool {
	if l.tracesRate <= 0 && l.spsRate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if dt := now.Sub(l.last).Seconds(); dt > 0 {
		// Burst: one second's worth.
		l.traces = min(l.traces+dt*l.tracesRate, l.tracesRate)
		l.spans = min(l.spans+dt*l.spsRate, l.spsRate)
		l.last = now
	}
	ok := (l.tracesRate <= 0 || l.traces >= 1) && (l.spsRate <= 0 || l.spans >= float64(spans))
	if ok || protected {
		l.traces--
		l.spans -= float64(spans)
		return true
	}
	return false
}
