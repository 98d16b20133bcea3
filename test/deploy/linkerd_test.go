package deploy

import (
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// Linkerd's Helm values have no Go types; these mirror the keys that
// deploy/linkerd sets, with the names of the linkerd-control-plane (>= 2.19:
// proxy.tracing) and linkerd-jaeger (2.14-2.18: webhook.collector*) charts.
// Strict decoding rejects any other key, so a misspelt key (which Helm would
// silently ignore) fails here.

type linkerdControlPlaneValues struct {
	Proxy struct {
		Tracing struct {
			Enabled          bool   `json:"enabled"`
			TraceServiceName string `json:"traceServiceName,omitempty"`
			Collector        struct {
				Endpoint     string `json:"endpoint"`
				MeshIdentity struct {
					ServiceAccountName string `json:"serviceAccountName"`
					Namespace          string `json:"namespace"`
				} `json:"meshIdentity"`
			} `json:"collector"`
		} `json:"tracing"`
	} `json:"proxy"`
}

type linkerdJaegerValues struct {
	Collector struct {
		Enabled *bool `json:"enabled"`
	} `json:"collector"`
	Jaeger struct {
		Enabled *bool `json:"enabled"`
	} `json:"jaeger"`
	Webhook struct {
		CollectorSvcAddr       string `json:"collectorSvcAddr"`
		CollectorSvcAccount    string `json:"collectorSvcAccount"`
		CollectorTraceProtocol string `json:"collectorTraceProtocol,omitempty"` // 2.17+
		CollectorTraceSvcName  string `json:"collectorTraceSvcName,omitempty"`
	} `json:"webhook"`
}

func splitHostPort(t *testing.T, file, addr string) (string, int32) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: %q: %v", file, addr, err)
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		t.Fatalf("%s: %q: %v", file, addr, err)
	}
	return host, int32(n)
}

// binaryHasReceiver asks the binary whether it was built with a receiver.
func binaryHasReceiver(t *testing.T, name string) bool {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), binary, "components").Output()
	if err != nil {
		t.Fatalf("otelcol-mesh components: %v", err)
	}
	var comps struct {
		Receivers []struct {
			Name string `json:"name"`
		} `json:"receivers"`
	}
	if err := yaml.Unmarshal(out, &comps); err != nil {
		t.Fatal(err)
	}
	if len(comps.Receivers) == 0 {
		t.Fatalf("otelcol-mesh components lists no receivers:\n%s", out)
	}
	return slices.ContainsFunc(comps.Receivers, func(r struct {
		Name string `json:"name"`
	}) bool {
		return r.Name == name
	})
}

func TestLinkerdControlPlane(t *testing.T) {
	g, _, _ := kubernetesSenderTarget(t)
	const file = "deploy/linkerd/linkerd-control-plane-values.yaml"
	var v linkerdControlPlaneValues
	if err := strictYAML(readRepoFile(t, file), &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	tr := v.Proxy.Tracing
	if !tr.Enabled {
		t.Error("proxy.tracing.enabled is not true")
	}
	host, port := splitHostPort(t, file, tr.Collector.Endpoint)
	if host != g.fqdn || port != g.otlpGRPC {
		t.Errorf("collector.endpoint %s, the agent tier's OTLP/gRPC Service is %s:%d", tr.Collector.Endpoint, g.fqdn, g.otlpGRPC)
	}
	// The proxies accept only a collector with this mTLS identity.
	if id := tr.Collector.MeshIdentity; id.ServiceAccountName != g.serviceAccount || id.Namespace != g.namespace {
		t.Errorf("collector.meshIdentity %s/%s, the agents run as %s/%s", id.Namespace, id.ServiceAccountName, g.namespace, g.serviceAccount)
	}
}

func TestLinkerdJaeger(t *testing.T) {
	g, agentPod, _ := kubernetesSenderTarget(t)
	if !binaryHasReceiver(t, "opencensus") {
		t.Fatal("the binary has no opencensus receiver: Linkerd 2.14-2.16 proxies send nothing else")
	}
	for _, tc := range []struct {
		file, protocol string
		port           int32
	}{
		{"deploy/linkerd/linkerd-jaeger-2.17-2.18-values.yaml", "opentelemetry", g.otlpGRPC},
		{"deploy/linkerd/linkerd-jaeger-2.14-2.16-values.yaml", "", g.opencensus}, // OpenCensus only, no protocol value before 2.17
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw := readRepoFile(t, tc.file)
			var v linkerdJaegerValues
			if err := strictYAML(raw, &v); err != nil {
				t.Fatalf("%v", err)
			}
			if v.Collector.Enabled == nil || *v.Collector.Enabled || v.Jaeger.Enabled == nil || *v.Jaeger.Enabled {
				t.Error("collector.enabled and jaeger.enabled must be false: otelcol-mesh replaces them")
			}
			if v.Webhook.CollectorTraceProtocol != tc.protocol {
				t.Errorf("webhook.collectorTraceProtocol %q, want %q", v.Webhook.CollectorTraceProtocol, tc.protocol)
			}
			host, addrPort := splitHostPort(t, tc.file, v.Webhook.CollectorSvcAddr)
			if host != g.fqdn || addrPort != tc.port {
				t.Errorf("webhook.collectorSvcAddr %s, want %s:%d", v.Webhook.CollectorSvcAddr, g.fqdn, tc.port)
			}
			// The injector builds the collector's identity from
			// collectorSvcAccount and the second label of the address.
			if labels := append(strings.Split(host, "."), ""); labels[1] != g.namespace || v.Webhook.CollectorSvcAccount != g.serviceAccount {
				t.Errorf("identity %s.%s, the agents run as %s.%s", v.Webhook.CollectorSvcAccount, labels[1], g.serviceAccount, g.namespace)
			}
			if tc.protocol != "" {
				return
			}
			// OpenCensus needs the distribution's opencensus receiver, on the
			// port the Service maps 55678 to.
			if tc.port != 55678 {
				t.Errorf("the agent Service takes OpenCensus on %d, Linkerd's default is 55678", tc.port)
			}
			if got := port(agentPod.listeners, "receivers/opencensus"); got == 0 {
				t.Error("the agents have no opencensus receiver in their traces pipeline")
			}
		})
	}
}

func TestLinkerdMeshedTiers(t *testing.T) {
	objs, pods, g := collectorTiers(t, "deploy/linkerd/collector")
	if g != wantGateway {
		t.Errorf("gateway %+v, want %+v", g, wantGateway)
	}
	// The proxies send to the agents (their identity), which forward to the
	// gateway: both tiers must be meshed.
	meshed := map[string]bool{}
	for _, p := range pods {
		if p.template.Annotations["linkerd.io/inject"] != "enabled" {
			t.Errorf("%s: pod template without linkerd.io/inject: enabled", p.object)
			continue
		}
		meshed[p.template.Labels["app.kubernetes.io/component"]] = true
	}
	if !meshed["gateway"] || !meshed["agent"] {
		t.Errorf("meshed tiers %v, want the agent and the gateway", meshed)
	}
	if len(objs) != len(kustomize(t, "deploy/kubernetes", "default")) {
		t.Error("the overlay must only annotate deploy/kubernetes, not add or drop objects")
	}
}
