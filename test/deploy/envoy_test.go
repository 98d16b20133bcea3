package deploy

import (
	"fmt"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	tracev3 "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"sigs.k8s.io/yaml"
)

// The imports above register the typed_config types, so that protojson can
// resolve (and strictly decode) every Any in the bootstrap.
var _ = routerv3.Router{}

func TestEnvoyBootstrap(t *testing.T) {
	g, _, _ := kubernetesSenderTarget(t)
	const file = "deploy/envoy/envoy.yaml"
	j, err := yaml.YAMLToJSONStrict(readRepoFile(t, file))
	if err != nil {
		t.Fatal(err)
	}
	var b bootstrapv3.Bootstrap
	if err := strictProto(j, &b); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("%s: %v", file, err)
	}

	clusters := map[string]*clusterv3.Cluster{}
	for _, c := range b.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = c
	}
	tracers, routes := 0, 0
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				var hcm hcmv3.HttpConnectionManager
				if err := f.GetTypedConfig().UnmarshalTo(&hcm); err != nil {
					continue
				}
				p := hcm.GetTracing().GetProvider()
				if p.GetName() != "envoy.tracers.opentelemetry" {
					t.Errorf("listener %s: tracing provider %q, want envoy.tracers.opentelemetry", l.GetName(), p.GetName())
					continue
				}
				var otel tracev3.OpenTelemetryConfig
				if err := p.GetTypedConfig().UnmarshalTo(&otel); err != nil {
					t.Fatalf("listener %s: %v", l.GetName(), err)
				}
				tracers++
				name := otel.GetGrpcService().GetEnvoyGrpc().GetClusterName()
				checkCollectorCluster(t, clusters[name], name, g)
				for _, vh := range hcm.GetRouteConfig().GetVirtualHosts() {
					for _, r := range vh.GetRoutes() {
						routes++
						if r.GetDecorator().GetOperation() == "" {
							t.Errorf("virtual host %s: a route without decorator.operation (it names the span)", vh.GetName())
						}
						if c := r.GetRoute().GetCluster(); clusters[c] == nil {
							t.Errorf("virtual host %s: route to cluster %q, which does not exist", vh.GetName(), c)
						}
					}
				}
				hf := hcm.GetHttpFilters()
				if len(hf) == 0 || hf[len(hf)-1].GetName() != "envoy.filters.http.router" {
					t.Errorf("listener %s: the router must be the last HTTP filter", l.GetName())
				}
			}
		}
	}
	if tracers == 0 || routes == 0 {
		t.Errorf("%d OpenTelemetry tracers and %d routes, want at least one each", tracers, routes)
	}
}

// checkCollectorCluster: the tracer's cluster exists, speaks HTTP/2 (gRPC) and
// points at the OTLP/gRPC port of the Service g (the agent tier).
func checkCollectorCluster(t *testing.T, c *clusterv3.Cluster, name string, g collectorAddress) {
	t.Helper()
	if c == nil {
		t.Errorf("the tracer sends to cluster %q, which does not exist", name)
		return
	}
	var opts upstreamhttpv3.HttpProtocolOptions
	anyOpts, ok := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
	if !ok || anyOpts.UnmarshalTo(&opts) != nil || opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
		t.Errorf("cluster %s: gRPC needs explicit_http_config.http2_protocol_options", name)
	}
	var addrs []string
	for _, e := range c.GetLoadAssignment().GetEndpoints() {
		for _, lb := range e.GetLbEndpoints() {
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			addrs = append(addrs, fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue()))
		}
	}
	if want := fmt.Sprintf("%s:%d", g.fqdn, g.otlpGRPC); len(addrs) != 1 || addrs[0] != want {
		t.Errorf("cluster %s: endpoints %v, want [%s]", name, addrs, want)
	}
	if c.GetType() != clusterv3.Cluster_STRICT_DNS {
		t.Errorf("cluster %s: type %v, want STRICT_DNS (a Service name)", name, c.GetType())
	}
}
