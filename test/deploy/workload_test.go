package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// podIP stands for the pod IP that the downward API gives a container.
const podIP = "10.0.0.7"

// imageRepository is the otelcol-mesh image every manifest runs; its tag must
// be the distribution's version (builder-config.yaml dist.version).
const imageRepository = "ghcr.io/otelcol-mesh/otelcol-mesh"

func expectedImage(t *testing.T) string {
	return imageRepository + ":" + distVersion(t)
}

func isCollectorImage(image string) bool {
	return strings.HasPrefix(image, imageRepository+":") || image == imageRepository
}

// workload is a Deployment, StatefulSet or DaemonSet.
type workload struct {
	object
	selector *metav1.LabelSelector
	template *corev1.PodTemplateSpec
	replicas *int32 // nil for a DaemonSet
}

func workloads(objs []object) []workload {
	var out []workload
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			out = append(out, workload{o, v.Spec.Selector, &v.Spec.Template, v.Spec.Replicas})
		case *appsv1.StatefulSet:
			out = append(out, workload{o, v.Spec.Selector, &v.Spec.Template, v.Spec.Replicas})
		case *appsv1.DaemonSet:
			out = append(out, workload{o, v.Spec.Selector, &v.Spec.Template, nil})
		}
	}
	return out
}

// collectorContainers are the containers (init containers included: a native
// sidecar is one) that run the otelcol-mesh image.
func (w workload) collectorContainers() []corev1.Container {
	var out []corev1.Container
	for _, c := range append(slices.Clone(w.template.Spec.InitContainers), w.template.Spec.Containers...) {
		if isCollectorImage(c.Image) {
			out = append(out, c)
		}
	}
	return out
}

// selects reports whether a label selector (a Service's map or a workload's
// LabelSelector) matches the workload's pod labels.
func (w workload) selectedBy(sel map[string]string) bool {
	return len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(w.template.Labels))
}

// containerEnv resolves a container's environment as the kubelet would.
func containerEnv(c corev1.Container, namespace string) (map[string]string, error) {
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil:
			switch e.ValueFrom.FieldRef.FieldPath {
			case "status.podIP":
				env[e.Name] = podIP
			case "metadata.name":
				env[e.Name] = "pod-0"
			case "metadata.namespace":
				env[e.Name] = namespace
			case "spec.nodeName":
				env[e.Name] = "node-0"
			default:
				return nil, fmt.Errorf("env %s: fieldRef %s not known to these tests", e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
		default:
			return nil, fmt.Errorf("env %s: only values and fieldRefs are known to these tests", e.Name)
		}
	}
	return env, nil
}

// containerConfig finds the collector config a container runs: a ConfigMap
// mounted at the --config path, or a file the image ships.
func containerConfig(t *testing.T, objs []object, w workload, c corev1.Container) (collectorConfig, error) {
	var cfgPath string
	args := append(slices.Clone(c.Command), c.Args...)
	for i, a := range args {
		if a == "--config" && i+1 < len(args) {
			cfgPath = args[i+1]
		} else if v, ok := strings.CutPrefix(a, "--config="); ok {
			cfgPath = v
		}
	}
	if cfgPath == "" {
		return collectorConfig{}, fmt.Errorf("container %s: no --config argument", c.Name)
	}
	for _, vm := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(cfgPath, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok {
			continue
		}
		var vol *corev1.Volume
		for i := range w.template.Spec.Volumes {
			if w.template.Spec.Volumes[i].Name == vm.Name {
				vol = &w.template.Spec.Volumes[i]
			}
		}
		if vol == nil || vol.ConfigMap == nil {
			return collectorConfig{}, fmt.Errorf("container %s: --config %s is on volume %q, which is not a ConfigMap volume of the pod", c.Name, cfgPath, vm.Name)
		}
		key := rel
		if len(vol.ConfigMap.Items) > 0 {
			key = ""
			for _, it := range vol.ConfigMap.Items {
				if it.Path == rel {
					key = it.Key
				}
			}
		}
		cm := find[corev1.ConfigMap](objs, w.namespace, vol.ConfigMap.Name)
		if cm == nil {
			return collectorConfig{}, fmt.Errorf("container %s: ConfigMap %s/%s of volume %q does not exist", c.Name, w.namespace, vol.ConfigMap.Name, vm.Name)
		}
		data, ok := cm.Data[key]
		if !ok || key == "" {
			return collectorConfig{}, fmt.Errorf("container %s: ConfigMap %s has no key for %s", c.Name, vol.ConfigMap.Name, cfgPath)
		}
		return parseCollectorConfig(t, fmt.Sprintf("%s: ConfigMap %s key %s", w.source, cm.Name, key), []byte(data)), nil
	}
	repoFile, ok := dockerImage(t).files[cfgPath]
	if !ok {
		return collectorConfig{}, fmt.Errorf("container %s: --config %s is neither a mounted ConfigMap nor a file of the image (Dockerfile)", c.Name, cfgPath)
	}
	return parseCollectorConfig(t, repoFile+" (image "+cfgPath+")", readRepoFile(t, repoFile)), nil
}

// collectorPod is a checked collector container with its config.
type collectorPod struct {
	workload
	container corev1.Container
	config    collectorConfig
	env       map[string]string
	listeners []listener
}

// checkCollectorWorkloads applies the container-level invariants to every
// otelcol-mesh container of every workload, validates its config with the
// binary, and returns them for the cross-object checks.
func checkCollectorWorkloads(t *testing.T, objs []object) []collectorPod {
	t.Helper()
	var pods []collectorPod
	for _, w := range workloads(objs) {
		for _, c := range w.collectorContainers() {
			if p, ok := checkCollectorContainer(t, objs, w, c); ok {
				pods = append(pods, p)
			}
		}
	}
	return pods
}

func checkCollectorContainer(t *testing.T, objs []object, w workload, c corev1.Container) (collectorPod, bool) {
	t.Helper()
	where := fmt.Sprintf("%s container %s", w.object, c.Name)
	if want := expectedImage(t); c.Image != want {
		t.Errorf("%s: image %s, want %s (the distribution's version)", where, c.Image, want)
	}
	cfg, err := containerConfig(t, objs, w, c)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return collectorPod{}, false
	}
	env, err := containerEnv(c, w.namespace)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return collectorPod{}, false
	}
	for _, name := range cfg.envRefsWithoutDefault() {
		if _, ok := env[name]; !ok {
			t.Errorf("%s: the config reads ${env:%s}, which the container does not set", where, name)
		}
	}
	cfg.validate(t, env)
	ls, err := cfg.listeners(env)
	if err != nil {
		t.Errorf("%s: %s: %v", where, cfg.source, err)
		return collectorPod{}, false
	}
	p := collectorPod{workload: w, container: c, config: cfg, env: env, listeners: ls}

	// Container ports: exactly the ports the config listens on outside the pod.
	want := map[int32]string{}
	for _, l := range ls {
		if l.loopback() {
			continue
		}
		if l.host != podIP && l.host != "0.0.0.0" && l.host != "" {
			t.Errorf("%s: %s listens on %s, neither the pod IP nor all interfaces", where, l.component, l.host)
		}
		want[l.port] = l.component
	}
	got := map[int32]bool{}
	names := map[string]bool{}
	for _, cp := range c.Ports {
		if names[cp.Name] {
			t.Errorf("%s: port name %q twice", where, cp.Name)
		}
		names[cp.Name] = true
		got[cp.ContainerPort] = true
		if _, ok := want[cp.ContainerPort]; !ok {
			t.Errorf("%s: containerPort %d (%s) is not a port the config listens on outside the pod", where, cp.ContainerPort, cp.Name)
		}
	}
	for port, component := range want {
		if !got[port] {
			t.Errorf("%s: the config's %s listens on %d, which is not a containerPort", where, component, port)
		}
	}
	if port(ls, "telemetry/prometheus") == 0 || !got[port(ls, "telemetry/prometheus")] {
		t.Errorf("%s: internal metrics (service.telemetry prometheus reader) are not exposed as a containerPort", where)
	}

	// Probes: liveness and readiness on the health_check extension.
	health := port(ls, "extensions/health_check")
	if health == 0 {
		t.Errorf("%s: the config has no health_check extension in service.extensions", where)
	}
	for name, probe := range map[string]*corev1.Probe{"livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("%s: %s must be an httpGet on the health_check extension", where, name)
			continue
		}
		if got := resolvePort(probe.HTTPGet.Port, c); got != health {
			t.Errorf("%s: %s port %s is %d, the health_check extension listens on %d", where, name, probe.HTTPGet.Port.String(), got, health)
		}
		if probe.HTTPGet.Path != cfg.healthCheckPath() {
			t.Errorf("%s: %s path %q, health_check serves %q", where, name, probe.HTTPGet.Path, cfg.healthCheckPath())
		}
	}

	// Resources and GOMEMLIMIT.
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		t.Errorf("%s: no memory limit", where)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("%s: no %s request", where, r)
		}
	}
	if gml, ok := env["GOMEMLIMIT"]; !ok {
		t.Errorf("%s: GOMEMLIMIT is not set", where)
	} else if n, err := parseGoMemLimit(gml); err != nil {
		t.Errorf("%s: GOMEMLIMIT %q: %v", where, gml, err)
	} else if ratio := float64(n) / float64(limit.Value()); ratio < 0.7 || ratio > 0.9 {
		t.Errorf("%s: GOMEMLIMIT %s is %.0f%% of the memory limit %s, want 70-90%%", where, gml, ratio*100, limit.String())
	}

	checkSampling(t, where, cfg, limit.Value())
	checkMeshMetadata(t, where, cfg)
	checkSecretFiles(t, where, p)

	// Non-root, as the image's user.
	psc := w.template.Spec.SecurityContext
	csc := c.SecurityContext
	runAsNonRoot := (csc != nil && csc.RunAsNonRoot != nil && *csc.RunAsNonRoot) || (psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
	if !runAsNonRoot {
		t.Errorf("%s: runAsNonRoot is not set", where)
	}
	var uid *int64
	if psc != nil && psc.RunAsUser != nil {
		uid = psc.RunAsUser
	}
	if csc != nil && csc.RunAsUser != nil {
		uid = csc.RunAsUser
	}
	if want := dockerImage(t).uid; uid == nil || *uid != want {
		t.Errorf("%s: runAsUser %s, want the image's user %d", where, fmtPtr(uid), want)
	}
	if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation must be false", where)
	}
	return p, true
}

// checkMeshMetadata: a collector that runs the mesh processor receives OTLP
// with include_metadata, so that the processor reads Envoy's User-Agent (the
// proxy version).
func checkMeshMetadata(t *testing.T, where string, c collectorConfig) {
	t.Helper()
	if !slices.ContainsFunc(c.pipelineComponents("processors"), func(id string) bool { return componentType(id) == "mesh" }) {
		return
	}
	for _, id := range c.pipelineComponents("receivers") {
		if componentType(id) != "otlp" {
			continue
		}
		protocols, _ := at(c.m, "receivers", id, "protocols").(map[string]any)
		for name, p := range protocols {
			if at(p, "include_metadata") != true {
				t.Errorf("%s: receivers.%s.protocols.%s: include_metadata is not true, but the mesh processor reads Envoy's User-Agent from it", where, id, name)
			}
		}
	}
}

// resolvePort resolves a probe or Service target port against a container.
func resolvePort(p intstr.IntOrString, c corev1.Container) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return 0
}

// parseGoMemLimit parses GOMEMLIMIT's syntax: bytes with an optional B, KiB,
// MiB, GiB or TiB suffix.
func parseGoMemLimit(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = v, u.mult
			break
		}
	}
	var n int64
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != s || n <= 0 {
		return 0, fmt.Errorf("not a GOMEMLIMIT value")
	}
	return n * mult, nil
}

// checkServices: every Service selects collector pods and every target port
// is a port of their container.
func checkServices(t *testing.T, objs []object, pods []collectorPod) {
	t.Helper()
	for _, o := range objs {
		svc, ok := o.obj.(*corev1.Service)
		if !ok {
			continue
		}
		var selected []collectorPod
		for _, p := range pods {
			if p.namespace == o.namespace && p.selectedBy(svc.Spec.Selector) {
				selected = append(selected, p)
			}
		}
		if len(selected) == 0 {
			t.Errorf("%s: selector %v matches no collector pod", o, svc.Spec.Selector)
			continue
		}
		for _, sp := range svc.Spec.Ports {
			target := sp.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(sp.Port)
			}
			for _, p := range selected {
				if resolvePort(target, p.container) == 0 {
					t.Errorf("%s: port %s targets %s, which container %s of %s does not have", o, sp.Name, target.String(), p.container.Name, p.object)
				}
			}
		}
	}
	for _, w := range workloads(objs) {
		sts, ok := w.obj.(*appsv1.StatefulSet)
		if !ok {
			continue
		}
		svc := find[corev1.Service](objs, w.namespace, sts.Spec.ServiceName)
		if svc == nil || svc.Spec.ClusterIP != corev1.ClusterIPNone || !w.selectedBy(svc.Spec.Selector) {
			t.Errorf("%s: serviceName %q must be a headless Service selecting its pods", w.object, sts.Spec.ServiceName)
		}
	}
}

// checkWorkloadWiring: selectors match the pod template, ServiceAccounts
// exist, PodDisruptionBudgets cover a workload and allow a disruption.
func checkWorkloadWiring(t *testing.T, objs []object) {
	t.Helper()
	hasSAs := len(ofType[corev1.ServiceAccount](objs)) > 0
	for _, w := range workloads(objs) {
		sel, err := metav1.LabelSelectorAsSelector(w.selector)
		if err != nil || w.selector == nil || sel.Empty() || !sel.Matches(labels.Set(w.template.Labels)) {
			t.Errorf("%s: spec.selector %v does not match the pod template labels %v", w.object, w.selector, w.template.Labels)
		}
		if sa := w.template.Spec.ServiceAccountName; hasSAs && len(w.collectorContainers()) > 0 && find[corev1.ServiceAccount](objs, w.namespace, sa) == nil {
			t.Errorf("%s: ServiceAccount %q does not exist", w.object, sa)
		}
	}
	for _, o := range objs {
		pdb, ok := o.obj.(*policyv1.PodDisruptionBudget)
		if !ok {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() {
			t.Errorf("%s: no selector", o)
			continue
		}
		covered := 0
		for _, w := range workloads(objs) {
			if w.namespace != o.namespace || !sel.Matches(labels.Set(w.template.Labels)) {
				continue
			}
			covered++
			if w.replicas == nil {
				continue
			}
			if pdb.Spec.MaxUnavailable == nil && (pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() >= int(*w.replicas)) {
				t.Errorf("%s: allows no voluntary disruption of %s (%d replicas)", o, w.object, *w.replicas)
			}
			if *w.replicas < 2 {
				t.Errorf("%s: %s has %d replica: a budget cannot keep it available", o, w.object, *w.replicas)
			}
		}
		if covered != 1 {
			t.Errorf("%s: selects %d workloads, want 1", o, covered)
		}
	}
}

// checkLoadBalancing: a load_balancing exporter's k8s resolver names a
// headless Service in the objects that selects collector pods listening for
// OTLP/gRPC on the resolver's ports, and the exporting pod's ServiceAccount may
// get/list/watch EndpointSlices there. It returns how many it checked.
func checkLoadBalancing(t *testing.T, objs []object, pods []collectorPod) int {
	t.Helper()
	n := 0
	for _, p := range pods {
		for _, id := range p.config.pipelineComponents("exporters") {
			if componentType(id) != "load_balancing" {
				continue
			}
			n++
			where := fmt.Sprintf("%s: exporter %s", p.config.source, id)
			k8s := at(p.config.m, "exporters", id, "resolver", "k8s")
			if k8s == nil {
				t.Errorf("%s: want the k8s resolver", where)
				continue
			}
			if rk := str(at(p.config.m, "exporters", id, "routing_key")); rk != "traceID" {
				t.Errorf("%s: routing_key %q, want traceID (whole traces to one gateway)", where, rk)
			}
			name, ns, ok := strings.Cut(str(at(k8s, "service")), ".")
			if !ok || ns == "" || strings.Contains(ns, ".") {
				t.Errorf("%s: resolver service %q must be <name>.<namespace>", where, str(at(k8s, "service")))
				continue
			}
			svc := find[corev1.Service](objs, ns, name)
			if svc == nil {
				t.Errorf("%s: Service %s/%s does not exist", where, ns, name)
				continue
			}
			if svc.Spec.ClusterIP != corev1.ClusterIPNone {
				t.Errorf("%s: Service %s/%s is not headless", where, ns, name)
			}
			ports := []int32{4317}
			if l := strings_(at(k8s, "ports")); len(l) > 0 {
				ports = nil
				for _, s := range l {
					var v int32
					fmt.Sscan(s, &v)
					ports = append(ports, v)
				}
			}
			targets := 0
			for _, q := range pods {
				if q.namespace != ns || !q.selectedBy(svc.Spec.Selector) {
					continue
				}
				targets++
				for _, want := range ports {
					if port(q.listeners, "receivers/otlp/grpc") != want {
						t.Errorf("%s: %s does not receive OTLP/gRPC on %d", where, q.object, want)
					}
				}
			}
			if targets == 0 {
				t.Errorf("%s: Service %s/%s selects no collector", where, ns, name)
			}
			checkEndpointSliceRBAC(t, objs, where, p, ns)
		}
	}
	return n
}

func checkEndpointSliceRBAC(t *testing.T, objs []object, where string, p collectorPod, ns string) {
	t.Helper()
	sa := p.template.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	if m := p.template.Spec.AutomountServiceAccountToken; m != nil && !*m {
		t.Errorf("%s: the pod does not mount its ServiceAccount token, which the k8s resolver needs", where)
	}
	if s := find[corev1.ServiceAccount](objs, p.namespace, sa); s != nil && s.AutomountServiceAccountToken != nil && !*s.AutomountServiceAccountToken && p.template.Spec.AutomountServiceAccountToken == nil {
		t.Errorf("%s: ServiceAccount %s does not mount its token", where, sa)
	}
	allows := func(rules []rbacv1.PolicyRule) bool {
		for _, r := range rules {
			if slices.Contains(r.APIGroups, "discovery.k8s.io") && slices.Contains(r.Resources, "endpointslices") &&
				slices.Contains(r.Verbs, "get") && slices.Contains(r.Verbs, "list") && slices.Contains(r.Verbs, "watch") {
				return true
			}
		}
		return false
	}
	bound := func(subjects []rbacv1.Subject) bool {
		for _, s := range subjects {
			if s.Kind == "ServiceAccount" && s.Name == sa && s.Namespace == p.namespace {
				return true
			}
		}
		return false
	}
	for _, rb := range ofType[rbacv1.RoleBinding](objs) {
		if rb.Namespace != "" && rb.Namespace != ns || !bound(rb.Subjects) {
			continue
		}
		if rb.RoleRef.Kind == "Role" {
			if r := find[rbacv1.Role](objs, ns, rb.RoleRef.Name); r != nil && allows(r.Rules) {
				return
			}
		}
	}
	for _, crb := range ofType[rbacv1.ClusterRoleBinding](objs) {
		for _, cr := range ofType[rbacv1.ClusterRole](objs) {
			if cr.Name == crb.RoleRef.Name && bound(crb.Subjects) && allows(cr.Rules) {
				return
			}
		}
	}
	t.Errorf("%s: ServiceAccount %s/%s may not get/list/watch discovery.k8s.io EndpointSlices in namespace %s", where, p.namespace, sa, ns)
}

// collectorAddress describes a collector Service as the other files must
// address it.
type collectorAddress struct {
	fqdn           string // <service>.<namespace>.svc.cluster.local
	namespace      string
	serviceAccount string // of the pods behind it: Linkerd checks it
	otlpGRPC       int32  // Service ports
	otlpHTTP       int32
	zipkin         int32
	opencensus     int32
}

// addressOf describes the Service o as it reaches the collector pod p: the
// Service port for each receiver of p.
func addressOf(o object, p collectorPod) collectorAddress {
	svc := o.obj.(*corev1.Service)
	a := collectorAddress{
		fqdn:           fmt.Sprintf("%s.%s.svc.cluster.local", o.name, o.namespace),
		namespace:      o.namespace,
		serviceAccount: p.template.Spec.ServiceAccountName,
	}
	for _, sp := range svc.Spec.Ports {
		target := resolvePort(sp.TargetPort, p.container)
		if target == 0 {
			continue
		}
		switch target {
		case port(p.listeners, "receivers/otlp/grpc"):
			a.otlpGRPC = sp.Port
		case port(p.listeners, "receivers/otlp/http"):
			a.otlpHTTP = sp.Port
		case port(p.listeners, "receivers/zipkin"):
			a.zipkin = sp.Port
		case port(p.listeners, "receivers/opencensus"):
			a.opencensus = sp.Port
		}
	}
	return a
}

// serviceAddress finds the Service namespace/name in checked objects and
// describes it as it reaches the first collector pod it selects.
func serviceAddress(t *testing.T, objs []object, pods []collectorPod, namespace, name string) (collectorAddress, collectorPod) {
	t.Helper()
	for _, o := range objs {
		svc, ok := o.obj.(*corev1.Service)
		if !ok || o.namespace != namespace || o.name != name {
			continue
		}
		for _, p := range pods {
			if p.namespace == o.namespace && p.selectedBy(svc.Spec.Selector) {
				return addressOf(o, p), p
			}
		}
	}
	t.Fatalf("no Service %s/%s selecting a collector", namespace, name)
	return collectorAddress{}, collectorPod{}
}

// gatewayOf finds the gateway (the collector pod behind a non-headless
// Service that exports with otlp_grpc) in checked objects.
func gatewayOf(t *testing.T, objs []object, pods []collectorPod) collectorAddress {
	t.Helper()
	for _, o := range objs {
		svc, ok := o.obj.(*corev1.Service)
		if !ok || svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal {
			continue
		}
		for _, p := range pods {
			if p.namespace != o.namespace || !p.selectedBy(svc.Spec.Selector) || !slices.ContainsFunc(p.config.pipelineComponents("exporters"), func(id string) bool { return componentType(id) == "otlp_grpc" }) {
				continue
			}
			return addressOf(o, p)
		}
	}
	t.Fatal("no gateway: no ClusterIP Service selects a collector that exports with otlp_grpc")
	return collectorAddress{}
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
