package sampling // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/sampling"

import (
	"regexp"
	"time"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"
)

// Rule names, in evaluation order; the deciding rule is the first of the
// matching rules with the lowest threshold (highest probability). Each rule
// is in rule_*.go; this file holds their configuration and the evaluation.
const (
	RuleErrors       = "errors"
	RuleMeshFailures = "mesh_failures"
	RuleLatency      = "latency"
	RuleCanary       = "canary"
	RuleAttribute    = "attribute" // suffixed with the attribute rule's name
	RuleEdgeCoverage = "edge_coverage"
	RuleBaseline     = "baseline"
	RuleStressRelief = "stress_relief"
)

// ruleSettings configure what the sampler keeps. A probability of 0
// disables a rule.
type ruleSettings struct {
	Errors       float64 // traces with an Error span, a 5xx or a gRPC server error
	MeshFailures float64 // traces with an Envoy failure flag or a retried request
	Latency      latencySettings
	Canary       float64 // traces with a mesh.canary span
	Attributes   []attributeSettings
	EdgeCoverage edgeCoverageSettings
	Baseline     float64 // everything else
}

// latencySettings keeps traces that last longer than Threshold, or with a hop
// (span) slower than the threshold of its destination service.
type latencySettings struct {
	Probability    float64
	Threshold      time.Duration
	PerDestination map[string]time.Duration
}

// attributeSettings keeps traces with a span (or resource) attribute that
// matches: one of Values (strings), a number within [Min, Max], or Bool.
type attributeSettings struct {
	Name        string
	Key         string
	Resource    bool
	Values      []string
	Regex       *regexp.Regexp
	Min, Max    *float64
	Bool        *bool
	Probability float64
}

// edgeCoverageSettings keeps at least MinTraces traces per Window for every
// source → destination service edge.
type edgeCoverageSettings struct {
	MinTraces int
	Window    time.Duration
}

// rule is one sampling rule: whether a trace matches it, and the threshold
// it keeps a match with.
type rule interface {
	name() string
	threshold() threshold.Threshold
	matches(t *trace, now time.Time) bool
}

// compiledRules are the configured rules, thresholds computed once, in
// evaluation order; baseline matches every trace.
type compiledRules struct {
	list     []rule
	baseline threshold.Threshold
	latency  *latencyRule  // also asked about hops while spans arrive
	coverage *edgeCoverage // also told about kept traces; nil when off
}

func compile(r ruleSettings, now time.Time) *compiledRules {
	c := &compiledRules{
		baseline: threshold.FromProbability(r.Baseline),
		latency:  newLatencyRule(r.Latency),
	}
	c.list = []rule{
		newErrorsRule(r.Errors),
		newMeshFailuresRule(r.MeshFailures),
		c.latency,
		newCanaryRule(r.Canary),
	}
	for i, a := range r.Attributes {
		c.list = append(c.list, newAttributeRule(a, i))
	}
	if r.EdgeCoverage.MinTraces > 0 {
		c.coverage = newEdgeCoverage(r.EdgeCoverage, now)
		c.list = append(c.list, c.coverage)
	}
	return c
}

// evaluate returns the threshold and the deciding rule for a trace: the
// lowest threshold among the rules it matches (baseline always matches).
// Rules are considered in documented order: a strictly lower threshold
// wins, so ties go to the earlier rule, and any rule beats the baseline.
func (c *compiledRules) evaluate(t *trace, now time.Time) (threshold.Threshold, string) {
	best, name := c.baseline, RuleBaseline
	for _, r := range c.list {
		th := r.threshold()
		if th == threshold.Never || th > best || (th == best && name != RuleBaseline) {
			continue
		}
		if r.matches(t, now) {
			best, name = th, r.name()
		}
	}
	return best, name
}
