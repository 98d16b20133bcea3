package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	grafanaprom "github.com/grafana/grafana-foundation-sdk/go/prometheus"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const (
	dashboardFile  = "deploy/grafana/otelcol-mesh-dashboard.json"
	rulesFile      = "deploy/prometheus/prometheusrule.yaml"
	monitoringDir  = "deploy/prometheus"
	metricsPort    = "metrics"
	datasourceUID  = "${datasource}"
	totalSuffixOpt = "(_total)?"
)

// The metadata.yaml of the distribution's own components: the dashboard
// must show every metric they declare.
var componentMetadata = []string{
	"processor/meshprocessor/metadata.yaml",
	"receiver/opencensusreceiver/metadata.yaml",
	"extension/decodeguardextension/metadata.yaml",
	"extension/journalstorageextension/metadata.yaml",
}

// The collector's own metrics the dashboard must show, besides those of
// componentMetadata.
// Counters are written without _total by the collector's Prometheus
// exporter at v0.161.0 and with it by Prometheus' OTLP ingestion.
var (
	coreCounters = []string{
		"otelcol_receiver_accepted_spans",
		"otelcol_receiver_refused_spans",
		"otelcol_exporter_sent_spans",
		"otelcol_exporter_send_failed_spans",
		"otelcol_processor_memory_limiter_refused_spans",
		"otelcol_processor_incoming_items",
		"otelcol_processor_outgoing_items",
	}
	coreGauges = []string{"otelcol_exporter_queue_size", "otelcol_exporter_queue_capacity"}
	// further collector counters the dashboard or rules may use
	otherCounters = []string{
		"otelcol_receiver_failed_spans",
		"otelcol_exporter_enqueue_failed_spans",
		"otelcol_processor_memory_limiter_accepted_spans",
		"otelcol_process_uptime",
	}
)

// metricKinds is what a selector may name: every counter (as name(_total)?),
// gauge and histogram series the tests know.
type metricKinds struct {
	counters, gauges, histograms map[string]bool // histograms: base names
}

// componentMetrics reads the telemetry metrics of the distribution's own
// components from their metadata.yaml.
func componentMetrics(t *testing.T) metricKinds {
	t.Helper()
	k := metricKinds{counters: map[string]bool{}, gauges: map[string]bool{}, histograms: map[string]bool{}}
	for _, file := range componentMetadata {
		var md struct {
			Telemetry struct {
				Metrics map[string]struct {
					Sum *struct {
						Monotonic bool `json:"monotonic"`
					} `json:"sum"`
					Gauge     any `json:"gauge"`
					Histogram any `json:"histogram"`
				} `json:"metrics"`
			} `json:"telemetry"`
		}
		if err := yaml.Unmarshal(readRepoFile(t, file), &md); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(md.Telemetry.Metrics) == 0 {
			t.Fatalf("%s declares no telemetry metrics: the metadata format changed", file)
		}
		for name, m := range md.Telemetry.Metrics {
			full := "otelcol_" + name
			switch {
			case m.Histogram != nil:
				k.histograms[full] = true
			case m.Sum != nil && m.Sum.Monotonic:
				k.counters[full] = true
			case m.Gauge != nil || m.Sum != nil:
				k.gauges[full] = true
			default:
				t.Fatalf("%s: metric %s is neither sum, gauge nor histogram: the metadata format changed", file, name)
			}
		}
	}
	return k
}

func allKinds(t *testing.T) (all, own metricKinds) {
	own = componentMetrics(t)
	all = metricKinds{counters: map[string]bool{}, gauges: map[string]bool{}, histograms: map[string]bool{}}
	for n := range own.counters {
		all.counters[n] = true
	}
	for n := range own.gauges {
		all.gauges[n] = true
	}
	for n := range own.histograms {
		all.histograms[n] = true
	}
	for _, n := range append(slices.Clone(coreCounters), otherCounters...) {
		all.counters[n] = true
	}
	for _, n := range coreGauges {
		all.gauges[n] = true
	}
	return all, own
}

// grafanaVars replaces Grafana's interval variables, which PromQL does not
// know, by durations; label values ("$job") are inside strings and parse.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

var promParser = parser.NewParser(parser.Options{})

// selector is the name matchers of one vector selector, where it was found.
type selector struct {
	where    string
	matchers []*labels.Matcher
}

func (s selector) matches(name string) bool {
	found := false
	for _, m := range s.matchers {
		if m.Name == labels.MetricName {
			found = true
			if !m.Matches(name) {
				return false
			}
		}
	}
	return found
}

// parseExpr parses a PromQL expression and returns its vector selectors.
func parseExpr(t *testing.T, where, expr string) []selector {
	t.Helper()
	ast, err := promParser.ParseExpr(grafanaVars.Replace(expr))
	if err != nil {
		t.Errorf("%s: %q does not parse: %v", where, expr, err)
		return nil
	}
	var out []selector
	parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, selector{where, vs.LabelMatchers})
		}
		return nil
	})
	if len(out) == 0 {
		t.Errorf("%s: %q selects no metric", where, expr)
	}
	return out
}

// checkSelectors: every selector names exactly one metric the tests know,
// counters as {__name__=~"<name>(_total)?"} so that both spellings match;
// and every metric of want is selected somewhere.
func checkSelectors(t *testing.T, file string, sels []selector, known metricKinds, want []string) {
	t.Helper()
	used := map[string]bool{}
	for _, s := range sels {
		var names []string
		for _, m := range s.matchers {
			if m.Name != labels.MetricName {
				continue
			}
			switch m.Type {
			case labels.MatchEqual:
				names = append(names, m.Value)
				if known.counters[strings.TrimSuffix(m.Value, "_total")] {
					t.Errorf("%s: counter %s selected by name only: use {__name__=~%q}", s.where, m.Value, strings.TrimSuffix(m.Value, "_total")+totalSuffixOpt)
				}
			case labels.MatchRegexp:
				base, ok := strings.CutSuffix(m.Value, totalSuffixOpt)
				if !ok || !known.counters[base] {
					t.Errorf("%s: __name__=~%q: want <counter>%s", s.where, m.Value, totalSuffixOpt)
					continue
				}
				names = append(names, base)
			default:
				t.Errorf("%s: __name__ matcher %s", s.where, m)
			}
		}
		if len(names) != 1 {
			t.Errorf("%s: a selector must name one metric, it names %v", s.where, names)
			continue
		}
		n := names[0]
		switch {
		case known.counters[n]:
			if !s.matches(n) || !s.matches(n+"_total") {
				t.Errorf("%s: the selector of %s does not match both %s and %s_total", s.where, n, n, n)
			}
		case known.gauges[n]:
		case strings.HasSuffix(n, "_bucket") && known.histograms[strings.TrimSuffix(n, "_bucket")]:
			n = strings.TrimSuffix(n, "_bucket")
		default:
			t.Errorf("%s: %s is not a metric these tests know (a typo, or add it to the lists above)", s.where, n)
		}
		used[n] = true
	}
	for _, n := range want {
		if !used[n] {
			t.Errorf("%s: no expression uses %s", file, n)
		}
	}
}

// sdkErr: the SDK's strict decoders return their error list as an error
// even when it is empty (a typed nil); only a non-empty list is an error.
func sdkErr(err error) error {
	var errs cog.BuildErrors
	if errors.As(err, &errs) && len(errs) == 0 {
		return nil
	}
	return err
}

// grafanaPanel is a decoded panel and its decoded Prometheus queries.
type grafanaPanel struct {
	dashboard.Panel
	queries []*grafanaprom.Dataquery
}

// decodeDashboard strictly decodes the dashboard with the Grafana Foundation
// SDK's types: unknown fields, wrong types and missing required fields are
// errors, and targets decode as Prometheus queries by the panel's
// datasource. Because of the typed nil above, the SDK's Dashboard decoder
// reports nested errors but drops every panel that decoded cleanly (and a
// panel drops its clean targets), so the panels and their targets are also
// decoded one by one, as strictly.
func decodeDashboard(raw []byte) (*dashboard.Dashboard, []grafanaPanel, int, error) {
	plugins.RegisterDefaultPlugins()
	var d dashboard.Dashboard
	if err := sdkErr(d.UnmarshalJSONStrict(raw)); err != nil {
		return nil, nil, 0, err
	}
	var top struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, nil, 0, err
	}
	var panels []grafanaPanel
	rows := 0
	var decode func(raws []json.RawMessage) error
	decode = func(raws []json.RawMessage) error {
		for i, rp := range raws {
			var head struct {
				Type    string            `json:"type"`
				Panels  []json.RawMessage `json:"panels"`
				Targets []json.RawMessage `json:"targets"`
			}
			if err := json.Unmarshal(rp, &head); err != nil {
				return err
			}
			if head.Type == "row" {
				var r dashboard.RowPanel
				if err := sdkErr(r.UnmarshalJSONStrict(rp)); err != nil {
					return fmt.Errorf("panels[%d]: %w", i, err)
				}
				rows++
				if err := decode(head.Panels); err != nil {
					return fmt.Errorf("row %s: %w", fmtPtr(r.Title), err)
				}
				continue
			}
			var p grafanaPanel
			if err := sdkErr(p.Panel.UnmarshalJSONStrict(rp)); err != nil {
				return fmt.Errorf("panels[%d]: %w", i, err)
			}
			for j, rt := range head.Targets {
				q := new(grafanaprom.Dataquery)
				if err := sdkErr(q.UnmarshalJSONStrict(rt)); err != nil {
					return fmt.Errorf("panel %s: targets[%d]: %w", fmtPtr(p.Title), j, err)
				}
				p.queries = append(p.queries, q)
			}
			panels = append(panels, p)
		}
		return nil
	}
	if err := decode(top.Panels); err != nil {
		return nil, nil, 0, err
	}
	return &d, panels, rows, nil
}

func TestGrafanaDashboard(t *testing.T) {
	raw := readRepoFile(t, dashboardFile)
	d, panels, rows, err := decodeDashboard(raw)
	if err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	// The strict decoding is strict: an unknown field anywhere fails.
	for _, bad := range []struct{ from, to string }{
		{`"schemaVersion":`, `"schemaVersionn": 1, "schemaVersion":`},
		{`"legendFormat":`, `"legendFormatt": "", "legendFormat":`},
		{`"showLegend":`, `"showLegendd": true, "showLegend":`},
		{`"collapsed":`, `"collapsedd": true, "collapsed":`},
	} {
		if !bytes.Contains(raw, []byte(bad.from)) {
			t.Fatalf("%s has no %s", dashboardFile, bad.from)
		}
		if _, _, _, err := decodeDashboard(bytes.Replace(raw, []byte(bad.from), []byte(bad.to), 1)); err == nil {
			t.Errorf("strict decoding accepted %s", bad.to)
		}
	}
	if d.Uid == nil || *d.Uid != "otelcol-mesh" || d.Title == nil || *d.Title == "" {
		t.Errorf("uid %v, title %v", fmtPtr(d.Uid), fmtPtr(d.Title))
	}

	all, own := allKinds(t)
	if len(panels) < 20 || rows < 4 {
		t.Fatalf("%d panels in %d rows", len(panels), rows)
	}
	var sels []selector
	ids := map[uint32]bool{}
	targets := 0
	for _, p := range panels {
		title := fmtPtr(p.Title)
		if p.Id == nil || ids[*p.Id] {
			t.Errorf("panel %q: id %s missing or not unique", title, fmtPtr(p.Id))
		} else {
			ids[*p.Id] = true
		}
		if p.Datasource == nil || fmtPtr(p.Datasource.Type) != "prometheus" || fmtPtr(p.Datasource.Uid) != datasourceUID {
			t.Errorf("panel %q: datasource %+v, want the prometheus variable %s", title, p.Datasource, datasourceUID)
		}
		if p.Description == nil || *p.Description == "" {
			t.Errorf("panel %q without a description", title)
		}
		if g := p.GridPos; g == nil || g.W <= 0 || g.X < 0 || g.X+g.W > 24 || g.H <= 0 {
			t.Errorf("panel %q: gridPos %+v", title, g)
		}
		if len(p.queries) == 0 {
			t.Errorf("panel %q has no targets", title)
		}
		for _, pq := range p.queries {
			if pq.Datasource == nil || fmtPtr(pq.Datasource.Uid) != datasourceUID || pq.RefId == nil {
				t.Errorf("panel %q: target %+v: datasource or refId missing", title, pq)
			}
			targets++
			sels = append(sels, parseExpr(t, fmt.Sprintf("panel %q target %s", title, fmtPtr(pq.RefId)), pq.Expr)...)
		}
	}
	if targets < len(panels) {
		t.Errorf("%d Prometheus targets for %d panels", targets, len(panels))
	}
	// Template variables: label_values(<selector>, <label>).
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)
	vars := 0
	for _, v := range d.Templating.List {
		if v.Type != dashboard.VariableTypeQuery {
			continue
		}
		vars++
		if v.Query == nil || v.Query.String == nil {
			t.Errorf("variable %s: no query string", v.Name)
			continue
		}
		m := labelValues.FindStringSubmatch(*v.Query.String)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(<selector>, <label>)", v.Name, *v.Query.String)
			continue
		}
		ms, err := promParser.ParseMetricSelector(m[1])
		if err != nil {
			t.Errorf("variable %s: %q does not parse: %v", v.Name, m[1], err)
			continue
		}
		sels = append(sels, selector{"variable " + v.Name, ms})
	}
	if vars == 0 {
		t.Error("no query variables (job, instance)")
	}

	want := append(slices.Clone(coreCounters), coreGauges...)
	for _, k := range []map[string]bool{own.counters, own.gauges, own.histograms} {
		for n := range k {
			want = append(want, n)
		}
	}
	sort.Strings(want)
	checkSelectors(t, dashboardFile, sels, all, want)
	t.Logf("%d panels, %d targets, %d selectors; covers %d metrics", len(panels), targets, len(sels), len(want))
}

func TestPrometheusRules(t *testing.T) {
	objs := kustomize(t, monitoringDir, "observability")
	rules := ofType[monitoringv1.PrometheusRule](objs)
	if len(rules) != 1 {
		t.Fatalf("%s: %d PrometheusRules, want 1", monitoringDir, len(rules))
	}
	pr := rules[0]
	markChecked(rulesFile)

	// Prometheus' own rule-file loader: expressions, durations, label and
	// annotation templates.
	groups, err := yaml.Marshal(map[string]any{"groups": pr.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := rulefmt.Parse(groups, false, model.UTF8Validation, promParser, slog.New(slog.DiscardHandler)); len(errs) > 0 {
		t.Fatalf("%s: rulefmt: %v", rulesFile, errs)
	}

	all, _ := allKinds(t)
	var sels []selector
	byAlert := map[string][]selector{}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a rule that is not an alert", g.Name)
				continue
			}
			where := "alert " + r.Alert
			if r.For == nil {
				t.Errorf("%s: no for:", where)
			} else if d, err := model.ParseDuration(string(*r.For)); err != nil || time.Duration(d) < time.Minute {
				t.Errorf("%s: for: %s, want at least 1m", where, *r.For)
			}
			if s := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, s) {
				t.Errorf("%s: severity %q", where, s)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", where, a)
				}
			}
			s := parseExpr(t, where, r.Expr.String())
			byAlert[r.Alert] = s
			sels = append(sels, s...)
		}
	}
	checkSelectors(t, rulesFile, sels, all, nil)

	// The situations the operators must hear about, each by some alert.
	for situation, metrics := range map[string][]string{
		"refused spans":                    {"otelcol_receiver_refused_spans"},
		"export failures":                  {"otelcol_exporter_send_failed_spans", "otelcol_exporter_sent_spans"},
		"a sending queue near capacity":    {"otelcol_exporter_queue_size", "otelcol_exporter_queue_capacity"},
		"stress relief on":                 {"otelcol_processor_mesh_sampling_stress_relief"},
		"bursts of malformed input":        {"otelcol_processor_mesh_malformed_inputs"},
		"kept spans lost":                  {"otelcol_processor_mesh_sampling_refused_spans"},
		"requests refused by decode_guard": {"otelcol_decode_guard_refused_requests"},
		"malformed OpenCensus messages":    {"otelcol_receiver_opencensus_malformed_messages"},
	} {
		found := false
		for _, s := range byAlert {
			all := true
			for _, m := range metrics {
				all = all && slices.ContainsFunc(s, func(x selector) bool { return x.matches(m) })
			}
			found = found || all
		}
		if !found {
			t.Errorf("no alert on %s (%v)", situation, metrics)
		}
	}
	if len(byAlert) < 6 {
		t.Errorf("%d alerts", len(byAlert))
	}
}

// checkScrapeTargets: the monitors (ServiceMonitor selectors svcSel,
// PodMonitor selectors podSel, both on the port named metrics) scrape every
// collector pod exactly once, on the port its Prometheus reader listens on.
func checkScrapeTargets(t *testing.T, where string, objs []object, pods []collectorPod, svcSel []*metav1.LabelSelector, podSel []*metav1.LabelSelector) {
	t.Helper()
	if len(pods) == 0 {
		t.Fatalf("%s: no collector pods", where)
	}
	for _, p := range pods {
		want := port(p.listeners, "telemetry/prometheus")
		if want == 0 {
			t.Errorf("%s: %s has no Prometheus reader", where, p.object)
			continue
		}
		scraped := 0
		for _, ls := range svcSel {
			sel, err := metav1.LabelSelectorAsSelector(ls)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			for _, o := range objs {
				svc, ok := o.obj.(*corev1.Service)
				if !ok || o.namespace != p.namespace || !sel.Matches(k8slabels.Set(svc.Labels)) || !p.selectedBy(svc.Spec.Selector) {
					continue
				}
				for _, sp := range svc.Spec.Ports {
					if sp.Name != metricsPort {
						continue
					}
					scraped++
					if got := resolvePort(sp.TargetPort, p.container); got != want {
						t.Errorf("%s: Service %s port metrics reaches %d of %s, the reader listens on %d", where, o.name, got, p.object, want)
					}
				}
			}
		}
		for _, ls := range podSel {
			sel, err := metav1.LabelSelectorAsSelector(ls)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if !sel.Matches(k8slabels.Set(p.template.Labels)) {
				continue
			}
			scraped++
			if got := resolvePort(intstr.FromString(metricsPort), p.container); got != want {
				t.Errorf("%s: container port metrics of %s is %d, the reader listens on %d", where, p.object, got, want)
			}
		}
		if scraped != 1 {
			t.Errorf("%s: %s is scraped %d times, want once", where, p.object, scraped)
		}
	}
}

func TestServiceMonitorKubernetes(t *testing.T) {
	objs := kustomize(t, monitoringDir, "observability")
	sms := ofType[monitoringv1.ServiceMonitor](objs)
	if len(sms) != 1 {
		t.Fatalf("%s: %d ServiceMonitors, want 1", monitoringDir, len(sms))
	}
	sm := sms[0]
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != metricsPort {
		t.Fatalf("endpoints %+v, want one on port metrics", sm.Spec.Endpoints)
	}
	if !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{"observability"}) {
		t.Errorf("namespaceSelector %+v", sm.Spec.NamespaceSelector)
	}
	tiers, pods, _ := collectorTiers(t, "deploy/kubernetes")
	components := map[string]bool{}
	for _, p := range pods {
		components[p.template.Labels["app.kubernetes.io/component"]] = true
	}
	if !components["gateway"] || !components["agent"] {
		t.Fatalf("collector pods of deploy/kubernetes: %v", components)
	}
	checkScrapeTargets(t, "deploy/prometheus on deploy/kubernetes", tiers, pods, []*metav1.LabelSelector{&sm.Spec.Selector}, nil)
}

func TestHelmMonitors(t *testing.T) {
	for _, mode := range []string{"gateway", "agent"} {
		t.Run(mode, func(t *testing.T) {
			off := render(t, "r", "ns", "--set", "mode="+mode)
			for _, k := range kinds(off) {
				if strings.HasPrefix(k, "monitoring.coreos.com/") {
					t.Errorf("default values render %s", k)
				}
			}

			objs := render(t, "r", "ns", "--set", "mode="+mode, "--set", "serviceMonitor.enabled=true", "--set", "serviceMonitor.labels.release=kps", "--set", "serviceMonitor.interval=15s")
			sms := ofType[monitoringv1.ServiceMonitor](objs)
			if len(sms) != 1 || len(ofType[monitoringv1.PodMonitor](objs)) != 0 {
				t.Fatalf("serviceMonitor.enabled: %v", kinds(objs))
			}
			sm := sms[0]
			if sm.Labels["release"] != "kps" || sm.Namespace != "ns" || !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{"ns"}) {
				t.Errorf("ServiceMonitor labels %v, namespace %s, namespaceSelector %+v", sm.Labels, sm.Namespace, sm.Spec.NamespaceSelector)
			}
			if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != metricsPort || sm.Spec.Endpoints[0].Interval != "15s" {
				t.Errorf("endpoints %+v", sm.Spec.Endpoints)
			}
			checkScrapeTargets(t, mode+" serviceMonitor", objs, checkCollectorWorkloads(t, objs), []*metav1.LabelSelector{&sm.Spec.Selector}, nil)

			objs = render(t, "r", "ns", "--set", "mode="+mode, "--set", "podMonitor.enabled=true")
			pms := ofType[monitoringv1.PodMonitor](objs)
			if len(pms) != 1 || len(ofType[monitoringv1.ServiceMonitor](objs)) != 0 {
				t.Fatalf("podMonitor.enabled: %v", kinds(objs))
			}
			pm := pms[0]
			if len(pm.Spec.PodMetricsEndpoints) != 1 || pm.Spec.PodMetricsEndpoints[0].Port == nil || *pm.Spec.PodMetricsEndpoints[0].Port != metricsPort {
				t.Errorf("podMetricsEndpoints %+v", pm.Spec.PodMetricsEndpoints)
			}
			checkScrapeTargets(t, mode+" podMonitor", objs, checkCollectorWorkloads(t, objs), nil, []*metav1.LabelSelector{&pm.Spec.Selector})
		})
	}
	for _, bad := range [][]string{
		{"--set", "serviceMonitor.enabled=true", "--set", "podMonitor.enabled=true"},
		{"--set", "serviceMonitor.interval=30"},
		{"--set", "podMonitor.enabledd=true"},
	} {
		if out, err := helm(t, append([]string{"template", "x", chartDir}, bad...)...); err == nil {
			t.Errorf("helm template %v succeeded:\n%s", bad, out)
		}
	}
}

// TestDashboardNoDuplicateKeys: the dashboard is valid JSON with no duplicate
// keys (encoding/json would keep the last one silently).
func TestDashboardNoDuplicateKeys(t *testing.T) {
	raw := readRepoFile(t, dashboardFile)
	if _, err := yaml.YAMLToJSONStrict(raw); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
}
