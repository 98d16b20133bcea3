package sampling

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"
)

var t0 = time.Unix(1_700_000_000, 0)

// matchTable checks which traces a rule matches.
func matchTable(t *testing.T, r rule, cases map[string]struct {
	tr   trace
	want bool
}) {
	t.Helper()
	for name, c := range cases {
		assert.Equal(t, c.want, r.matches(&c.tr, t0), name)
	}
}

func TestErrorsRule(t *testing.T) {
	r := newErrorsRule(1)
	assert.Equal(t, RuleErrors, r.name())
	assert.Equal(t, threshold.Always, r.threshold())
	matchTable(t, r, map[string]struct {
		tr   trace
		want bool
	}{
		"error":             {trace{err: true}, true},
		"proxy failure 200": {trace{failure: true}, false},
		"plain":             {trace{}, false},
	})
}

func TestMeshFailuresRule(t *testing.T) {
	r := newMeshFailuresRule(0.5)
	assert.Equal(t, threshold.FromProbability(0.5), r.threshold())
	matchTable(t, r, map[string]struct {
		tr   trace
		want bool
	}{
		"failure flag":        {trace{failure: true}, true},
		"retry ending in 200": {trace{retry: true}, true},
		"error only":          {trace{err: true}, false},
	})
}

func TestCanaryRule(t *testing.T) {
	matchTable(t, newCanaryRule(1), map[string]struct {
		tr   trace
		want bool
	}{
		"canary": {trace{canary: true}, true},
		"stable": {trace{}, false},
	})
}

func TestLatencyRule(t *testing.T) {
	r := newLatencyRule(latencySettings{Probability: 1, Threshold: time.Second, PerDestination: map[string]time.Duration{"ratings": 100 * time.Millisecond}})
	assert.Equal(t, 100*time.Millisecond, r.hopThreshold("ratings"))
	assert.Equal(t, time.Second, r.hopThreshold("reviews"))
	s := uint64(t0.UnixNano())
	matchTable(t, r, map[string]struct {
		tr   trace
		want bool
	}{
		"a slow hop":              {trace{slow: true}, true},
		"a slow trace":            {trace{minStart: s, maxEnd: s + uint64(2*time.Second)}, true},
		"a fast trace":            {trace{minStart: s, maxEnd: s + uint64(time.Millisecond)}, false},
		"no timestamps":           {trace{}, false},
		"end before start (skew)": {trace{minStart: s, maxEnd: s - 1}, false},
	})
	assert.False(t, newLatencyRule(latencySettings{Probability: 1}).matches(&trace{minStart: 1, maxEnd: 1 << 62}, t0), "no threshold: only hops")
}

func TestAttributeRule(t *testing.T) {
	r := newAttributeRule(attributeSettings{Name: "vip", Probability: 1}, 2)
	assert.Equal(t, "attribute/vip", r.name())
	matchTable(t, r, map[string]struct {
		tr   trace
		want bool
	}{
		"its bit":       {trace{attrMatch: 1 << 2}, true},
		"another's bit": {trace{attrMatch: 1 << 1}, false},
	})
	one, lo, yes := 1.0, 10.0, true
	for _, c := range []struct {
		rule attributeSettings
		v    pcommon.Value
		want bool
	}{
		{attributeSettings{Values: []string{"gold"}}, pcommon.NewValueStr("gold"), true},
		{attributeSettings{Values: []string{"gold"}}, pcommon.NewValueStr("silver"), false},
		{attributeSettings{Regex: regexp.MustCompile(`^/api/`)}, pcommon.NewValueStr("/api/v1"), true},
		{attributeSettings{Min: &lo}, pcommon.NewValueInt(12), true},
		{attributeSettings{Min: &lo}, pcommon.NewValueStr("9.5"), false},
		{attributeSettings{Min: &one, Max: &lo}, pcommon.NewValueDouble(5), true},
		{attributeSettings{Min: &one}, pcommon.NewValueStr("not a number"), false},
		{attributeSettings{Bool: &yes}, pcommon.NewValueBool(true), true},
		{attributeSettings{Bool: &yes}, pcommon.NewValueStr("true"), false},
	} {
		assert.Equal(t, c.want, attributeMatches(c.rule, c.v), "%+v on %v", c.rule, c.v.AsRaw())
	}
}

func TestEdgeCoverageRule(t *testing.T) {
	e := newEdgeCoverage(edgeCoverageSettings{MinTraces: 2, Window: time.Minute}, t0)
	assert.Equal(t, threshold.Always, e.threshold())
	tr := trace{edges: []uint64{edgeKey("a", "b")}}
	assert.True(t, e.matches(&tr, t0), "no kept trace on the edge yet")
	e.record(tr.edges, t0)
	assert.True(t, e.matches(&tr, t0))
	e.record(tr.edges, t0)
	assert.False(t, e.matches(&tr, t0), "two kept in this window")
	assert.True(t, e.matches(&tr, t0.Add(time.Minute)), "a new window")
	assert.False(t, e.matches(&trace{}, t0), "a trace without edges")
}

// The deciding rule is the first of the matching rules with the lowest
// threshold; baseline matches every trace and loses ties.
func TestEvaluateOrder(t *testing.T) {
	c := compile(ruleSettings{Errors: 0.5, MeshFailures: 1, Canary: 0.5, Baseline: 0.5, EdgeCoverage: edgeCoverageSettings{MinTraces: 1, Window: time.Minute}}, t0)
	for name, tc := range map[string]struct {
		tr   trace
		th   threshold.Threshold
		rule string
	}{
		"plain: edge coverage has nothing to cover": {trace{}, threshold.FromProbability(0.5), RuleBaseline},
		"a tie goes to the earlier rule":            {trace{err: true, canary: true}, threshold.FromProbability(0.5), RuleErrors},
		"the lower threshold wins":                  {trace{err: true, failure: true}, threshold.Always, RuleMeshFailures},
		"edge coverage keeps always":                {trace{edges: []uint64{1}}, threshold.Always, RuleEdgeCoverage},
	} {
		th, rule := c.evaluate(&tc.tr, t0)
		assert.Equal(t, tc.th, th, name)
		assert.Equal(t, tc.rule, rule, name)
	}
	off := compile(ruleSettings{Errors: 0}, t0)
	th, rule := off.evaluate(&trace{err: true}, t0)
	assert.Equal(t, threshold.Never, th, "probability 0 turns a rule off, and baseline 0 keeps nothing")
	assert.Equal(t, RuleBaseline, rule)
}
