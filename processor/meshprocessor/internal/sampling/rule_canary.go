package sampling

import (
	"time"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"
)

// canaryRule keeps traces with a span the processor marked mesh.canary=true.
type canaryRule struct{ th threshold.Threshold }

func newCanaryRule(p float64) canaryRule { return canaryRule{threshold.FromProbability(p)} }

func (canaryRule) name() string                     { return RuleCanary }
func (r canaryRule) threshold() threshold.Threshold { return r.th }
func (canaryRule) matches(t *trace, _ time.Time) bool {
	return t.canary
}
