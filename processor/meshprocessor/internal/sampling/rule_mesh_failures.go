package sampling

import (
	"time"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"
)

// meshFailuresRule keeps traces in which the proxy failed (an Envoy failure
// response flag: UF, UH, URX …) or retried a request, even when the final
// status is 200.
type meshFailuresRule struct{ th threshold.Threshold }

func newMeshFailuresRule(p float64) meshFailuresRule {
	return meshFailuresRule{threshold.FromProbability(p)}
}

func (meshFailuresRule) name() string                     { return RuleMeshFailures }
func (r meshFailuresRule) threshold() threshold.Threshold { return r.th }
func (meshFailuresRule) matches(t *trace, _ time.Time) bool {
	return t.failure || t.retry
}
