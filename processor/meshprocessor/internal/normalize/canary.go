package normalize // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/normalize"

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Canary rule names, recorded in the processor_mesh_canary_spans metric.
const (
	ruleSubset        = "subset"
	ruleHostSuffix    = "host_suffix"
	ruleHeader        = "header"
	ruleResourceLabel = "resource_label"
)

// CanaryConfig lists the signals that mark a span as canary traffic. A span is
// canary when any rule matches.
type CanaryConfig struct {
	// Subsets lists destination subsets or workload versions that are canaries
	// (Istio DestinationRule subset, istio.canonical_revision, service.version).
	Subsets []string `mapstructure:"subsets"`

	// HostSuffixes lists destination service name suffixes that are canaries,
	// as in Flagger's "<app>-canary" Services.
	HostSuffixes []string `mapstructure:"host_suffixes"`

	// Headers maps a span attribute captured from a request header (an Istio
	// Telemetry customTags.header name such as "x-canary") to the values that
	// mark canary traffic. An empty list matches any value but "" and "false".
	Headers map[string][]string `mapstructure:"headers"`

	// ResourceLabels maps a resource attribute (Linkerd pod labels such as
	// "version" or "linkerd.io/proxy-deployment") to the values that mark a
	// canary workload. Applies to server-side (inbound) spans, where the resource
	// is the workload that served the request.
	ResourceLabels map[string][]string `mapstructure:"resource_labels"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// canaryRules is CanaryConfig compiled into lookup sets.
type canaryRules struct {
	subsets      map[string]bool
	hostSuffixes []string
	// labels maps a resource key to its canary values; a nil set matches
	// any value but "" and "false". (Header rules are in headerKeys.)
	labels map[string]map[string]bool
}

func newCanaryRules(cfg CanaryConfig) canaryRules {
	r := canaryRules{
		subsets:      toSet(cfg.Subsets),
		hostSuffixes: cfg.HostSuffixes,
		labels:       map[string]map[string]bool{},
	}
	for k, vs := range cfg.ResourceLabels {
		r.labels[k] = toSet(vs)
	}
	return r
}

func toSet(values []string) map[string]bool {
	if len(values) == 0 {
		return nil
	}
	s := make(map[string]bool, len(values))
	for _, v := range values {
		s[v] = true
	}
	return s
}

// canaryInput is what a span says about the workload that served it.
type canaryInput struct {
	// subset is the destination subset from the cluster name (outbound) or
	// waypoint cluster; version the serving workload's version, known on
	// inbound proxy spans and application spans.
	subset, version string
	// service is the destination service (for host suffixes).
	service string
	inbound bool
	// header: a canary header tag matched (found in the attribute pass).
	header bool
	// proxy is false for application spans: they get mesh.canary only when
	// a rule matches.
	proxy bool
	// deferFalse: leave false to Finish (Envoy spans, DecisionAttributes).
	deferFalse bool
}

// markCanary sets mesh.canary on proxy spans (true or false) and on
// application spans that a rule marks as canary.
func (b *batch) markCanary(attrs pcommon.Map, res pcommon.Map, in canaryInput) {
	if b.pass == passFinish {
		// Decided before, with the whole request: true was written then.
		if _, marked := attrs.Get(attrMeshCanary); !marked {
			attrs.PutBool(attrMeshCanary, false)
		}
		return
	}
	rule := b.n.canary.match(res, in)
	if rule != "" {
		attrs.PutBool(attrMeshCanary, true)
		if b.counts.Canary == nil {
			b.counts.Canary = map[string]int64{}
		}
		b.counts.Canary[rule]++
		return
	}
	if !in.proxy {
		return
	}
	// The sampler reads only true: on Envoy spans before the decision, false
	// is written only over a true an earlier processor wrote.
	if _, marked := attrs.Get(attrMeshCanary); marked || !in.deferFalse {
		attrs.PutBool(attrMeshCanary, false)
	}
}

func (r *canaryRules) match(res pcommon.Map, in canaryInput) string {
	serving := in.inbound || !in.proxy // the resource is the serving workload
	if r.subsets[in.subset] || (serving && r.subsets[in.version]) {
		return ruleSubset
	}
	for _, suffix := range r.hostSuffixes {
		if in.service != "" && strings.HasSuffix(in.service, suffix) {
			return ruleHostSuffix
		}
	}
	if in.header {
		return ruleHeader
	}
	if serving {
		for key, values := range r.labels {
			if v, ok := res.Get(key); ok && matches(v, values) {
				return ruleResourceLabel
			}
		}
	}
	return ""
}

// matches compares a tag value with a rule's values. Header values captured
// under semconv keys are string arrays: any element may match.
func matches(v pcommon.Value, values map[string]bool) bool {
	if v.Type() == pcommon.ValueTypeSlice {
		for _, e := range v.Slice().All() {
			if matches(e, values) {
				return true
			}
		}
		return false
	}
	s := v.AsString()
	if values == nil {
		return s != "" && s != "false"
	}
	return values[s]
}
