package sampling

import (
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"
)

// attributeRule keeps traces with a span (or resource) attribute that
// matches its AttributeRule. Spans are matched as they arrive (observe
// sets bit i of trace.attrMatch for the i-th attribute rule).
type attributeRule struct {
	th   threshold.Threshold
	n    string
	mask uint64
}

func newAttributeRule(a attributeSettings, i int) attributeRule {
	return attributeRule{th: threshold.FromProbability(a.Probability), n: RuleAttribute + "/" + a.Name, mask: 1 << uint(i)}
}

func (r attributeRule) name() string                   { return r.n }
func (r attributeRule) threshold() threshold.Threshold { return r.th }
func (r attributeRule) matches(t *trace, _ time.Time) bool {
	return t.attrMatch&r.mask != 0
}

// matchAttribute returns the bits of the attribute rules (span or resource
// scoped) on key that v matches.
func (e *Engine) matchAttribute(key string, v pcommon.Value, resource bool) uint64 {
	var bits uint64
	for i, r := range e.set.Rules.Attributes {
		if r.Key == key && r.Resource == resource && attributeMatches(r, v) {
			bits |= 1 << uint(i)
		}
	}
	return bits
}

func attributeMatches(r attributeSettings, v pcommon.Value) bool {
	switch {
	case r.Bool != nil:
		return v.Type() == pcommon.ValueTypeBool && v.Bool() == *r.Bool
	case r.Min != nil || r.Max != nil:
		var f float64
		switch v.Type() {
		case pcommon.ValueTypeInt:
			f = float64(v.Int())
		case pcommon.ValueTypeDouble:
			f = v.Double()
		case pcommon.ValueTypeStr:
			var err error
			if f, err = strconv.ParseFloat(v.Str(), 64); err != nil {
				return false
			}
		default:
			return false
		}
		return (r.Min == nil || f >= *r.Min) && (r.Max == nil || f <= *r.Max)
	}
	s := v.AsString()
	if r.Regex != nil && r.Regex.MatchString(s) {
		return true
	}
	for _, want := range r.Values {
		if s == want {
			return true
		}
	}
	return false
}
