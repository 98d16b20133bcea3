package sampling

import (
	"time"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"
)

// errorsRule keeps traces with an error: a span with Error status (as the
// processor normalized it: 5xx, 4xx on CLIENT spans, gRPC errors, proxy
// failures) or an HTTP status of 500 and above (observe sets trace.err).
type errorsRule struct{ th threshold.Threshold }

func newErrorsRule(p float64) errorsRule { return errorsRule{threshold.FromProbability(p)} }

func (errorsRule) name() string                     { return RuleErrors }
func (r errorsRule) threshold() threshold.Threshold { return r.th }
func (errorsRule) matches(t *trace, _ time.Time) bool {
	return t.err
}
