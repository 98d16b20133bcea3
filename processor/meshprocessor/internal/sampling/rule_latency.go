package sampling

import (
	"time"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"
)

// latencyRule keeps traces that last longer than the threshold, or with a
// hop (span) slower than the threshold of its destination service. Hops are
// judged as their spans arrive (observe asks hopThreshold and sets
// trace.slow); the whole trace when it is decided.
type latencyRule struct {
	th             threshold.Threshold
	limit          time.Duration
	perDestination map[string]time.Duration
}

func newLatencyRule(r latencySettings) *latencyRule {
	return &latencyRule{th: threshold.FromProbability(r.Probability), limit: r.Threshold, perDestination: r.PerDestination}
}

func (*latencyRule) name() string                     { return RuleLatency }
func (r *latencyRule) threshold() threshold.Threshold { return r.th }

func (r *latencyRule) matches(t *trace, _ time.Time) bool {
	return t.slow || (r.limit > 0 && t.maxEnd > t.minStart && time.Duration(t.maxEnd-t.minStart) >= r.limit)
}

// hopThreshold returns the latency threshold for a span to dest (0: none).
func (r *latencyRule) hopThreshold(dest string) time.Duration {
	if d, ok := r.perDestination[dest]; ok {
		return d
	}
	return r.limit
}
