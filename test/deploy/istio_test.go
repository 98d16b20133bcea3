package deploy

import (
	"slices"
	"strings"
	"testing"

	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiotelemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"
)

func decodeFile(t *testing.T, rel, defaultNamespace string) []object {
	t.Helper()
	return decodeDocs(t, rel, readRepoFile(t, rel), defaultNamespace)
}

func TestIstio(t *testing.T) {
	g, agentPod, gatewayPod := kubernetesSenderTarget(t)

	iops := ofType[istioOperator](decodeFile(t, "deploy/istio/meshconfig.yaml", "istio-system"))
	if len(iops) != 1 {
		t.Fatalf("meshconfig.yaml: %d IstioOperators, want 1", len(iops))
	}
	mc := iops[0].meshConfig
	if !mc.GetEnableTracing() {
		t.Error("meshConfig.enableTracing is not set")
	}
	providers := map[string]*meshv1alpha1.MeshConfig_ExtensionProvider{}
	var otel, zipkin string
	for _, p := range mc.GetExtensionProviders() {
		providers[p.GetName()] = p
		if o := p.GetOpentelemetry(); o != nil {
			otel = p.GetName()
			if o.GetService() != g.fqdn || o.GetPort() != uint32(g.otlpGRPC) {
				t.Errorf("provider %s sends to %s:%d, the senders' OTLP/gRPC Service (agent tier) is %s:%d", p.GetName(), o.GetService(), o.GetPort(), g.fqdn, g.otlpGRPC)
			}
			if o.GetHttp() != nil {
				t.Errorf("provider %s uses HTTP, want gRPC", p.GetName())
			}
			if o.GetResourceDetectors().GetEnvironment() == nil {
				t.Errorf("provider %s: resource_detectors.environment is not set", p.GetName())
			}
		}
		if z := p.GetZipkin(); z != nil {
			zipkin = p.GetName()
			if z.GetService() != g.fqdn || z.GetPort() != uint32(g.zipkin) {
				t.Errorf("provider %s sends to %s:%d, the senders' Zipkin Service (agent tier) is %s:%d", p.GetName(), z.GetService(), z.GetPort(), g.fqdn, g.zipkin)
			}
		}
	}
	if otel == "" || zipkin == "" {
		t.Fatalf("want an opentelemetry and a zipkin provider, have %v", mc.GetExtensionProviders())
	}

	// telemetry.yaml and its Zipkin alternative: mesh-wide, one provider
	// each, and the x-canary header as a span tag.
	for file, provider := range map[string]string{"deploy/istio/telemetry.yaml": otel, "deploy/istio/telemetry-zipkin.yaml": zipkin} {
		tels := ofType[istiotelemetryv1.Telemetry](decodeFile(t, file, "default"))
		if len(tels) != 1 {
			t.Fatalf("%s: %d Telemetry resources, want 1", file, len(tels))
		}
		tel := tels[0]
		if tel.Namespace != "istio-system" || tel.Spec.GetSelector() != nil || len(tel.Spec.GetTargetRefs()) > 0 {
			t.Errorf("%s: not mesh-wide (root namespace istio-system, no selector)", file)
		}
		if tel.Name != "mesh-default" {
			t.Errorf("%s: named %q: the two alternatives share one name, so that applying one replaces the other", file, tel.Name)
		}
		if len(tel.Spec.GetTracing()) != 1 {
			t.Fatalf("%s: %d tracing entries, want 1", file, len(tel.Spec.GetTracing()))
		}
		tr := tel.Spec.GetTracing()[0]
		var names []string
		for _, p := range tr.GetProviders() {
			names = append(names, p.GetName())
		}
		if !slices.Equal(names, []string{provider}) {
			t.Errorf("%s: providers %v, want [%s]", file, names, provider)
		}
		if p := tr.GetRandomSamplingPercentage(); p == nil || p.GetValue() <= 0 || p.GetValue() > 100 {
			t.Errorf("%s: randomSamplingPercentage %v, want (0, 100]", file, p.GetValue())
		}
		if h := tr.GetCustomTags()["x-canary"].GetHeader(); h.GetName() != "x-canary" {
			t.Errorf("%s: customTags x-canary must copy the x-canary request header", file)
		}
	}

	// The canary example: subsets exist, weights add up, the header route
	// goes to the canary subset, and the gateway marks that subset canary.
	objs := decodeFile(t, "deploy/istio/canary.yaml", "default")
	drs := ofType[istionetworkingv1.DestinationRule](objs)
	vss := ofType[istionetworkingv1.VirtualService](objs)
	if len(drs) != 1 || len(vss) != 1 {
		t.Fatalf("canary.yaml: %d DestinationRules and %d VirtualServices, want 1 and 1", len(drs), len(vss))
	}
	dr, vs := drs[0], vss[0]
	subsets := map[string]bool{}
	for _, s := range dr.Spec.GetSubsets() {
		subsets[s.GetName()] = true
		if len(s.GetLabels()) == 0 {
			t.Errorf("subset %s selects no pods", s.GetName())
		}
	}
	if !slices.Contains(vs.Spec.GetHosts(), dr.Spec.GetHost()) || dr.Namespace != vs.Namespace {
		t.Errorf("VirtualService hosts %v do not include the DestinationRule host %s", vs.Spec.GetHosts(), dr.Spec.GetHost())
	}
	var headerSubset, headerName string
	minoritySubsets := map[string]bool{}
	for _, route := range vs.Spec.GetHttp() {
		total := int32(0)
		for _, d := range route.GetRoute() {
			if d.GetDestination().GetHost() != dr.Spec.GetHost() || !subsets[d.GetDestination().GetSubset()] {
				t.Errorf("route %s: destination %s subset %q is not in the DestinationRule", route.GetName(), d.GetDestination().GetHost(), d.GetDestination().GetSubset())
			}
			total += d.GetWeight()
			if len(route.GetRoute()) > 1 && d.GetWeight() < 50 {
				minoritySubsets[d.GetDestination().GetSubset()] = true
			}
		}
		if len(route.GetRoute()) > 1 && total != 100 {
			t.Errorf("route %s: weights add up to %d", route.GetName(), total)
		}
		for _, m := range route.GetMatch() {
			for name, sm := range m.GetHeaders() {
				if _, ok := sm.GetMatchType().(*networkingv1alpha3.StringMatch_Exact); ok && len(route.GetRoute()) == 1 {
					headerName, headerSubset = name, route.GetRoute()[0].GetDestination().GetSubset()
				}
			}
		}
	}
	if headerName != "x-canary" {
		t.Errorf("no route matches the x-canary header exactly (found %q)", headerName)
	}
	if !minoritySubsets[headerSubset] {
		t.Errorf("the header route goes to %q, which is not the minority side of a weight split", headerSubset)
	}
	// Agents and gateway both normalize: both must know the canary subset.
	for _, p := range []collectorPod{agentPod, gatewayPod} {
		canary := strings_(at(p.config.m, "processors", "mesh", "canary", "subsets"))
		if !slices.Contains(canary, headerSubset) {
			t.Errorf("%s: the mesh processor's canary.subsets %v lacks %q, the canary subset of canary.yaml", p.config.source, canary, headerSubset)
		}
	}
	if !strings.HasPrefix(dr.Spec.GetHost(), "reviews.") {
		t.Errorf("host %s: the example is Bookinfo's reviews", dr.Spec.GetHost())
	}
}
