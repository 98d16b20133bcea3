package sampling

import (
	"sync"
	"time"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"
)

// edgeCoverage keeps at least min traces per window for every source →
// destination service edge (trace.edges, collected as spans arrive): a
// trace with an edge below the minimum is kept, and kept traces are
// counted on their edges (record).
type edgeCoverage struct {
	mu     sync.Mutex
	min    int
	window time.Duration
	start  time.Time
	kept   map[uint64]int
}

func newEdgeCoverage(r edgeCoverageSettings, now time.Time) *edgeCoverage {
	return &edgeCoverage{min: r.MinTraces, window: r.Window, start: now, kept: map[uint64]int{}}
}

func (*edgeCoverage) name() string                   { return RuleEdgeCoverage }
func (*edgeCoverage) threshold() threshold.Threshold { return threshold.Always }
func (e *edgeCoverage) matches(t *trace, now time.Time) bool {
	return e.below(t.edges, now)
}

func (e *edgeCoverage) roll(now time.Time) {
	if now.Sub(e.start) >= e.window {
		clear(e.kept)
		e.start = now
	}
}

// below reports whether any of the edges has fewer kept traces than the minimum.
func (e *edgeCoverage) below(edges []uint64, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.roll(now)
	for _, edge := range edges {
		if e.kept[edge] < e.min {
			return true
		}
	}
	return false
}

// record counts a kept trace on its edges.
func (e *edgeCoverage) record(edges []uint64, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.roll(now)
	for _, edge := range edges {
		e.kept[edge]++
	}
}
