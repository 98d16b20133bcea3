package sampling

import (
	"time"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"
)

// factRule keeps traces with a fact that observe recorded as their spans
// arrived: the errors, mesh_failures and canary rules.
type factRule struct {
	n    string
	th   threshold.Threshold
	fact func(*trace) bool
}

// newErrorsRule: a span with Error status (as the processor normalized it:
// 5xx, 4xx on CLIENT spans, gRPC errors, proxy failures) or an HTTP status of
// 500 and above.
func newErrorsRule(p float64) factRule {
	return factRule{RuleErrors, threshold.FromProbability(p), func(t *trace) bool { return t.err }}
}

// newMeshFailuresRule: the proxy failed (an Envoy failure response flag: UF,
// UH, URX …) or retried a request, even when the final status is 200.
func newMeshFailuresRule(p float64) factRule {
	return factRule{RuleMeshFailures, threshold.FromProbability(p), func(t *trace) bool { return t.failure || t.retry }}
}

// newCanaryRule: a span the processor marked mesh.canary=true.
func newCanaryRule(p float64) factRule {
	return factRule{RuleCanary, threshold.FromProbability(p), func(t *trace) bool { return t.canary }}
}

func (r factRule) name() string                       { return r.n }
func (r factRule) threshold() threshold.Threshold     { return r.th }
func (r factRule) matches(t *trace, _ time.Time) bool { return r.fact(t) }
