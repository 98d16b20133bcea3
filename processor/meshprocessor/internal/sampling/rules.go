package sampling // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/sampling"

import (
	"regexp"
	"sync"
	"time"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"
)

// Rule names, in evaluation order; the deciding rule is the first of the
// matching rules with the lowest threshold (highest probability).
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

// Rules configure what the sampler keeps. A probability of 0 disables a rule.
type Rules struct {
	Errors       float64 // traces with an Error span, a 5xx or a gRPC server error
	MeshFailures float64 // traces with an Envoy failure flag or a retried request
	Latency      LatencyRule
	Canary       float64 // traces with a mesh.canary span
	Attributes   []AttributeRule
	EdgeCoverage EdgeCoverageRule
	Baseline     float64 // everything else
}

// LatencyRule keeps traces that last longer than Threshold, or with a hop
// (span) slower than the threshold of its destination service.
type LatencyRule struct {
	Probability    float64
	Threshold      time.Duration
	PerDestination map[string]time.Duration
}

// AttributeRule keeps traces with a span (or resource) attribute that
// matches: one of Values (strings), a number within [Min, Max], or Bool.
type AttributeRule struct {
	Name        string
	Key         string
	Resource    bool
	Values      []string
	Regex       *regexp.Regexp
	Min, Max    *float64
	Bool        *bool
	Probability float64
}

// EdgeCoverageRule keeps at least MinTraces traces per Window for every
// source → destination service edge.
type EdgeCoverageRule struct {
	MinTraces int
	Window    time.Duration
}

// compiled rules: thresholds computed once.
type compiledRules struct {
	errors, failures, latency, canary, baseline threshold.Threshold
	attributes                                  []threshold.Threshold
	attributeNames                              []string
	rules                                       Rules
	coverage                                    *edgeCoverage
}

func compile(r Rules, now time.Time) *compiledRules {
	c := &compiledRules{
		errors:   threshold.FromProbability(r.Errors),
		failures: threshold.FromProbability(r.MeshFailures),
		latency:  threshold.FromProbability(r.Latency.Probability),
		canary:   threshold.FromProbability(r.Canary),
		baseline: threshold.FromProbability(r.Baseline),
		rules:    r,
	}
	for _, a := range r.Attributes {
		c.attributes = append(c.attributes, threshold.FromProbability(a.Probability))
		c.attributeNames = append(c.attributeNames, RuleAttribute+"/"+a.Name)
	}
	if r.EdgeCoverage.MinTraces > 0 {
		c.coverage = &edgeCoverage{min: r.EdgeCoverage.MinTraces, window: r.EdgeCoverage.Window, start: now, kept: map[uint64]int{}}
	}
	return c
}

// evaluate returns the threshold and the deciding rule for a trace: the
// lowest threshold among the rules it matches (baseline always matches).
func (c *compiledRules) evaluate(t *trace, now time.Time) (threshold.Threshold, string) {
	best, rule := c.baseline, RuleBaseline
	// Rules are considered in documented order: a strictly lower threshold
	// wins, so ties go to the earlier rule, and any rule beats the baseline.
	first := func(match bool, th threshold.Threshold, name string) {
		if match && th != threshold.Never && (th < best || (th == best && rule == RuleBaseline)) {
			best, rule = th, name
		}
	}
	first(t.err, c.errors, RuleErrors)
	first(t.failure || t.retry, c.failures, RuleMeshFailures)
	first(t.slow || c.traceSlow(t), c.latency, RuleLatency)
	first(t.canary, c.canary, RuleCanary)
	for i := range c.attributes {
		first(t.attrMatch&(1<<uint(i)) != 0, c.attributes[i], c.attributeNames[i])
	}
	if c.coverage != nil && c.coverage.below(t.edges, now) {
		first(true, threshold.Always, RuleEdgeCoverage)
	}
	return best, rule
}

func (c *compiledRules) traceSlow(t *trace) bool {
	d := c.rules.Latency.Threshold
	return d > 0 && t.maxEnd > t.minStart && time.Duration(t.maxEnd-t.minStart) >= d
}

// hopThreshold returns the latency threshold for a span to dest.
func (c *compiledRules) hopThreshold(dest string) time.Duration {
	if d, ok := c.rules.Latency.PerDestination[dest]; ok {
		return d
	}
	return c.rules.Latency.Threshold
}

// edgeCoverage counts kept traces per edge in the current window.
type edgeCoverage struct {
	mu     sync.Mutex
	min    int
	window time.Duration
	start  time.Time
	kept   map[uint64]int
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
