package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// kustomize strictly decodes the kustomization.yaml of dir (relative to the
// root) and every resource file it lists, checks that it lists every YAML
// file of the directory, builds it as `kubectl apply -k` would, and strictly
// decodes the result.
func kustomize(t *testing.T, dir, defaultNamespace string) []object {
	t.Helper()
	kfile := path.Join(dir, "kustomization.yaml")
	var k types.Kustomization
	if err := strictYAML(readRepoFile(t, kfile), &k); err != nil {
		t.Fatalf("%s: %v", kfile, err)
	}
	listed := map[string]bool{}
	for _, r := range k.Resources {
		p := path.Clean(path.Join(dir, r))
		fi, err := os.Stat(filepath.Join(repoRoot, p))
		if err != nil {
			t.Errorf("%s: resource %s: %v", kfile, r, err)
			continue
		}
		if fi.IsDir() {
			continue // another kustomization, checked by its own test
		}
		listed[path.Base(p)] = true
		decodeDocs(t, p, readRepoFile(t, p), defaultNamespace)
	}
	entries, err := os.ReadDir(filepath.Join(repoRoot, dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") && e.Name() != "kustomization.yaml" && !listed[e.Name()] {
			t.Errorf("%s: %s is not in resources", kfile, e.Name())
		}
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(repoRoot, dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return decodeDocs(t, "kustomize build "+dir, out, defaultNamespace)
}

// collectorTiers builds deploy/kubernetes and checks what every render of
// the tiers must satisfy.
func collectorTiers(t *testing.T, dir string) ([]object, []collectorPod, collectorAddress) {
	t.Helper()
	objs := kustomize(t, dir, "default")
	pods := checkCollectorWorkloads(t, objs)
	checkWorkloadWiring(t, objs)
	checkServices(t, objs, pods)
	if n := checkLoadBalancing(t, objs, pods); n != 1 {
		t.Errorf("%d load_balancing exporters, want 1 (the agent tier)", n)
	}
	return objs, pods, gatewayOf(t, objs, pods)
}

// wantGateway is where every file of deploy/ addresses the gateway.
var wantGateway = collectorAddress{
	fqdn:           "otelcol-mesh-gateway.observability.svc.cluster.local",
	namespace:      "observability",
	serviceAccount: "otelcol-mesh-gateway",
	otlpGRPC:       4317,
	otlpHTTP:       4318,
	zipkin:         9411,
	opencensus:     55678,
}

// wantAgent is the node-local agent tier's Service (internalTrafficPolicy:
// Local): the same receivers as the gateway.
var wantAgent = collectorAddress{
	fqdn:           "otelcol-mesh-agent.observability.svc.cluster.local",
	namespace:      "observability",
	serviceAccount: "otelcol-mesh-agent",
	otlpGRPC:       4317,
	otlpHTTP:       4318,
	zipkin:         9411,
	opencensus:     55678,
}

// kubernetesGateway is the gateway of deploy/kubernetes and its collector
// pod.
func kubernetesGateway(t *testing.T) (collectorAddress, collectorPod) {
	t.Helper()
	_, pods, g := collectorTiers(t, "deploy/kubernetes")
	if g != wantGateway {
		t.Fatalf("gateway of deploy/kubernetes is %+v, want %+v", g, wantGateway)
	}
	for _, p := range pods {
		if p.template.Labels["app.kubernetes.io/component"] == "gateway" {
			return g, p
		}
	}
	t.Fatal("no gateway pod in deploy/kubernetes")
	return g, collectorPod{}
}

// kubernetesSenderTarget is where the Istio, Linkerd, Envoy and sidecar files must
// send in deploy/kubernetes: the gateway tail-samples with more than one
// replica, so every span of a trace must reach the same replica, and only
// the agent tier (whose load_balancing exporter routes by trace ID to the
// gateway's headless Service) gets it there. It returns the agent Service's
// address, an agent pod and a gateway pod.
func kubernetesSenderTarget(t *testing.T) (collectorAddress, collectorPod, collectorPod) {
	t.Helper()
	objs, pods, g := collectorTiers(t, "deploy/kubernetes")
	if g != wantGateway {
		t.Fatalf("gateway of deploy/kubernetes is %+v, want %+v", g, wantGateway)
	}
	a, agent := serviceAddress(t, objs, pods, wantAgent.namespace, "otelcol-mesh-agent")
	if a != wantAgent {
		t.Fatalf("agent Service of deploy/kubernetes is %+v, want %+v", a, wantAgent)
	}
	var gateway collectorPod
	for _, p := range pods {
		if p.template.Labels["app.kubernetes.io/component"] == "gateway" {
			gateway = p
		}
	}
	checkTracesStayWhole(t, objs, agent, gateway)
	return a, agent, gateway
}

// checkTracesStayWhole: when the gateway samples with more than one replica,
// the agent exports only with load_balancing by trace ID, and its resolver
// names a headless Service that selects the sampling gateway's pods.
func checkTracesStayWhole(t *testing.T, objs []object, agent, gateway collectorPod) {
	t.Helper()
	if _, samples := meshSampling(gateway.config); !samples || gateway.replicas == nil || *gateway.replicas < 2 {
		return // one replica, or no sampling: any sender target keeps traces whole
	}
	exporters := agent.config.pipelineComponents("exporters")
	if len(exporters) != 1 || componentType(exporters[0]) != "load_balancing" || str(at(agent.config.m, "exporters", exporters[0], "routing_key")) != "traceID" {
		t.Errorf("%s: exporters %v: the gateway samples with %d replicas, so the agents must export only with load_balancing by traceID", agent.object, exporters, *gateway.replicas)
		return
	}
	name, ns, _ := strings.Cut(str(at(agent.config.m, "exporters", exporters[0], "resolver", "k8s", "service")), ".")
	svc := find[corev1.Service](objs, ns, name)
	if svc == nil || svc.Spec.ClusterIP != corev1.ClusterIPNone || gateway.namespace != ns || !gateway.selectedBy(svc.Spec.Selector) {
		t.Errorf("%s: load_balancing resolves %s/%s, which is not a headless Service of the sampling gateway %s", agent.object, ns, name, gateway.object)
	}
}

func TestKubernetesCollectorTiers(t *testing.T) {
	objs, pods, g := collectorTiers(t, "deploy/kubernetes")
	if g != wantGateway {
		t.Errorf("gateway %+v, want %+v", g, wantGateway)
	}
	for _, o := range objs {
		if o.kind != "v1/Namespace" && o.namespace != "observability" {
			t.Errorf("%s: not in namespace observability", o)
		}
	}
	if find[corev1.Namespace](objs, "", "observability") == nil {
		t.Error("no Namespace observability")
	}
	roles := map[string]collectorPod{}
	for _, p := range pods {
		roles[p.template.Labels["app.kubernetes.io/component"]] = p
	}
	gw, ok := roles["gateway"]
	if !ok {
		t.Fatal("no gateway pod")
	}
	if _, ok := gw.obj.(*appsv1.StatefulSet); !ok {
		t.Errorf("gateway is a %s, want a StatefulSet", gw.kind)
	}
	if got := gw.config.pipelineComponents("processors"); !slices.Contains(got, "mesh") || !slices.Contains(got, "memory_limiter") {
		t.Errorf("gateway processors %v, want memory_limiter and mesh", got)
	}
	checkProcessorOrder(t, gw.config)
	agent, ok := roles["agent"]
	if !ok {
		t.Fatal("no agent pod")
	}
	if _, ok := agent.obj.(*appsv1.DaemonSet); !ok {
		t.Errorf("agent is a %s, want a DaemonSet", agent.kind)
	}
	checkProcessorOrder(t, agent.config)
	// The agents normalize too (Envoy's User-Agent reaches only them), with
	// the gateway's canary rules.
	if got := agent.config.pipelineComponents("processors"); !slices.Equal(got, []string{"memory_limiter", "mesh"}) {
		t.Errorf("agent processors %v, want memory_limiter, mesh (the exporter's queue batches)", got)
	}
	// Both tiers queue on disk, retry without a deadline and bound exports
	// in bytes, as the shipped configs do.
	checkDurableExport(t, gw, "otlp_grpc")
	checkSameExport(t, gw, "configs/gateway.yaml", "otlp_grpc")
	checkDurableExport(t, agent, "load_balancing")
	checkSameExport(t, agent, "configs/agent.yaml", "load_balancing")
	if a, g := at(agent.config.m, "processors", "mesh", "canary"), at(gw.config.m, "processors", "mesh", "canary"); !reflect.DeepEqual(a, g) || a == nil {
		t.Errorf("agent mesh canary %v, gateway mesh canary %v: want the same rules", a, g)
	}
	svc := find[corev1.Service](objs, "observability", "otelcol-mesh-agent")
	if svc == nil || svc.Spec.InternalTrafficPolicy == nil || *svc.Spec.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyLocal {
		t.Error("Service otelcol-mesh-agent must exist with internalTrafficPolicy: Local (node-local agent for Envoy)")
	}
	if a, _ := serviceAddress(t, objs, pods, "observability", "otelcol-mesh-agent"); a != wantAgent {
		t.Errorf("agent Service %+v, want %+v", a, wantAgent)
	}
	if gw.container.Image != agent.container.Image {
		t.Errorf("gateway image %s, agent image %s", gw.container.Image, agent.container.Image)
	}
}

// checkProcessorOrder: memory_limiter first, batch last, in every pipeline.
func checkProcessorOrder(t *testing.T, c collectorConfig) {
	t.Helper()
	pipelines, _ := at(c.m, "service", "pipelines").(map[string]any)
	for name, p := range pipelines {
		procs := strings_(at(p, "processors"))
		if len(procs) == 0 || componentType(procs[0]) != "memory_limiter" {
			t.Errorf("%s: pipeline %s: processors %v, memory_limiter must come first", c.source, name, procs)
		}
		if i := slices.IndexFunc(procs, func(id string) bool { return componentType(id) == "batch" }); i >= 0 && i != len(procs)-1 {
			t.Errorf("%s: pipeline %s: processors %v, batch must come last", c.source, name, procs)
		}
	}
}

// exporterEndpoint is the endpoint of the config's otlp_grpc exporter.
func exporterEndpoint(t *testing.T, c collectorConfig, env map[string]string) string {
	t.Helper()
	for _, id := range c.pipelineComponents("exporters") {
		if componentType(id) == "otlp_grpc" {
			return expand(str(at(c.m, "exporters", id, "endpoint")), env)
		}
	}
	t.Errorf("%s: no otlp_grpc exporter", c.source)
	return ""
}

// checkAppSendsToSidecar: the example application's SDK exports OTLP/gRPC to
// the sidecar's loopback receiver, and every receiver stays on loopback. The
// sidecar takes OpenCensus on localhost:55678 too: ocagent's default, and the
// address a Linkerd proxy in the pod can export to without mesh identity.
func checkAppSendsToSidecar(t *testing.T, objs []object, ls []listener, source string) {
	t.Helper()
	for _, l := range ls {
		if strings.HasPrefix(l.component, "receivers/") && !l.loopback() {
			t.Errorf("%s: sidecar %s listens on %s: a sidecar receives on localhost only", source, l.component, l.host)
		}
	}
	if got := port(ls, "receivers/opencensus"); got != 55678 {
		t.Errorf("%s: the sidecar receives OpenCensus on port %d, want localhost:55678", source, got)
	}
	grpc := port(ls, "receivers/otlp/grpc")
	found := false
	for _, w := range workloads(objs) {
		for _, c := range w.template.Spec.Containers {
			for _, e := range c.Env {
				if e.Name == "OTEL_EXPORTER_OTLP_ENDPOINT" {
					found = true
					if want := fmt.Sprintf("http://localhost:%d", grpc); e.Value != want {
						t.Errorf("%s: container %s sends to %s, the sidecar receives OTLP/gRPC on %s", w.object, c.Name, e.Value, want)
					}
				}
			}
		}
	}
	if !found {
		t.Errorf("%s: no application container sets OTEL_EXPORTER_OTLP_ENDPOINT", source)
	}
}

func TestSidecarOperator(t *testing.T) {
	g, _, _ := kubernetesSenderTarget(t)
	objs := kustomize(t, "deploy/kubernetes/sidecar/operator", "app")
	cols := ofType[otelCollector](objs)
	if len(cols) != 1 {
		t.Fatalf("%d OpenTelemetryCollectors, want 1", len(cols))
	}
	col := cols[0]
	spec := col.Spec
	if spec.Mode != "sidecar" {
		t.Errorf("mode %q, want sidecar", spec.Mode)
	}
	if want := expectedImage(t); spec.Image != want {
		t.Errorf("image %s, want %s", spec.Image, want)
	}
	// The Operator warns about null component configs and kubectl edit or
	// kustomize drop them: write {}.
	for section, m := range map[string]map[string]any{"receivers": spec.Config.Receivers, "processors": spec.Config.Processors, "exporters": spec.Config.Exporters, "extensions": spec.Config.Extensions} {
		for id, v := range m {
			if v == nil {
				t.Errorf("config.%s.%s is null: write %s: {}", section, id, id)
			}
		}
	}
	j, err := json.Marshal(spec.Config)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := yaml.JSONToYAML(j)
	if err != nil {
		t.Fatal(err)
	}
	cfg := parseCollectorConfig(t, "deploy/kubernetes/sidecar/operator/collector.yaml spec.config", raw)
	env, err := containerEnv(corev1.Container{Env: spec.Env}, "app")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range cfg.envRefsWithoutDefault() {
		if _, ok := env[name]; !ok {
			t.Errorf("spec.config reads ${env:%s}, which spec.env does not set", name)
		}
	}
	cfg.validate(t, env)
	checkMeshMetadata(t, cfg.source, cfg)
	ls, err := cfg.listeners(env)
	if err != nil {
		t.Fatal(err)
	}
	checkAppSendsToSidecar(t, objs, ls, cfg.source)
	for _, c := range []string{"extensions/health_check", "telemetry/prometheus"} {
		l := ls[slices.IndexFunc(ls, func(l listener) bool { return l.component == c })]
		if l.loopback() {
			t.Errorf("%s listens on %s: the kubelet probes and scrapes the pod IP", c, l.host)
		}
	}
	if spec.LivenessProbe == nil || spec.ReadinessProbe == nil {
		t.Error("set livenessProbe and readinessProbe (the Operator derives their handler from health_check)")
	}
	if got, want := exporterEndpoint(t, cfg, env), fmt.Sprintf("%s:%d", g.fqdn, g.otlpGRPC); got != want {
		t.Errorf("exports to %s, the senders' target (agent tier) is %s", got, want)
	}
	limit := spec.Resources.Limits[corev1.ResourceMemory]
	if n, err := parseGoMemLimit(env["GOMEMLIMIT"]); err != nil {
		t.Errorf("GOMEMLIMIT %q: %v", env["GOMEMLIMIT"], err)
	} else if ratio := float64(n) / float64(limit.Value()); ratio < 0.7 || ratio > 0.9 {
		t.Errorf("GOMEMLIMIT is %.0f%% of the memory limit, want 70-90%%", ratio*100)
	}
	sc := spec.SecurityContext
	if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != dockerImage(t).uid || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("securityContext must run as non-root uid %d", dockerImage(t).uid)
	}

	injected := 0
	for _, w := range workloads(objs) {
		if v, ok := w.template.Annotations["sidecar.opentelemetry.io/inject"]; ok {
			injected++
			if v != col.Metadata.Name {
				t.Errorf("%s: sidecar.opentelemetry.io/inject=%q, the OpenTelemetryCollector is %q", w.object, v, col.Metadata.Name)
			}
		}
		if _, ok := w.obj.(*appsv1.Deployment); ok {
			if _, ok := w.template.Annotations["sidecar.opentelemetry.io/inject"]; !ok {
				t.Errorf("%s: the annotation belongs on the pod template", w.object)
			}
		}
	}
	if injected == 0 {
		t.Error("no pod template carries sidecar.opentelemetry.io/inject")
	}
	checkWorkloadWiring(t, objs)
}

func TestSidecarPlain(t *testing.T) {
	g, _, _ := kubernetesSenderTarget(t)
	objs := kustomize(t, "deploy/kubernetes/sidecar/plain", "app")
	pods := checkCollectorWorkloads(t, objs)
	checkWorkloadWiring(t, objs)
	if len(pods) != 1 {
		t.Fatalf("%d otelcol-mesh containers, want 1", len(pods))
	}
	p := pods[0]
	if !slices.ContainsFunc(p.template.Spec.InitContainers, func(c corev1.Container) bool {
		return c.Name == p.container.Name && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
	}) {
		t.Errorf("%s: the sidecar must be a native sidecar (init container, restartPolicy: Always)", p.object)
	}
	if !strings.HasPrefix(p.config.source, "configs/sidecar.yaml") {
		t.Errorf("%s runs %s, want the image's sidecar config", p.object, p.config.source)
	}
	checkAppSendsToSidecar(t, objs, p.listeners, p.config.source)
	if got, want := exporterEndpoint(t, p.config, p.env), fmt.Sprintf("%s:%d", g.fqdn, g.otlpGRPC); got != want {
		t.Errorf("exports to %s, the senders' target (agent tier) is %s", got, want)
	}
}
