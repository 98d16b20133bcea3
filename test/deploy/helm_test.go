package deploy

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

const chartDir = "deploy/helm/otelcol-mesh"

// helm runs the pinned helm with its caches in a temporary directory.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.CommandContext(t.Context(), helmBinary, args...)
	cmd.Dir = repoRoot
	cmd.Env = []string{"HOME=" + home, "HELM_CACHE_HOME=" + home + "/cache", "HELM_CONFIG_HOME=" + home + "/config", "HELM_DATA_HOME=" + home + "/data"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// render runs helm template and strictly decodes the result.
func render(t *testing.T, release, namespace string, args ...string) []object {
	t.Helper()
	out, err := helm(t, append([]string{"template", release, chartDir, "--namespace", namespace}, args...)...)
	if err != nil {
		t.Fatalf("helm template %s %v: %v\n%s", release, args, err, out)
	}
	return decodeDocs(t, fmt.Sprintf("helm template %s %s", release, strings.Join(args, " ")), []byte(out), namespace)
}

func kinds(objs []object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.kind)
	}
	slices.Sort(out)
	return out
}

func TestHelmLint(t *testing.T) {
	for _, args := range [][]string{nil, {"--set", "mode=agent"}} {
		if out, err := helm(t, append([]string{"lint", "--strict", chartDir}, args...)...); err != nil {
			t.Errorf("helm lint --strict %v: %v\n%s", args, err, out)
		}
	}
	markCheckedTree(t, chartDir)
	// The schema and the templates refuse what cannot work.
	for _, bad := range [][]string{
		{"--set", "mode=sidecar"},
		{"--set", "resources.limits.memory=1G"},
		{"--set", "mode=agent", "--set-json", `sampling={"rules":{"baseline":{"probability":0.5}}}`},
		{"--set", "mode=agent", "--set", "sampling.enabled=false"},
		{"--set", "exporter.endpointt=x:4317"},
		{"--set", "meshNaming=otel"},
		// sampling: the schema has the mesh processor's keys and types
		{"--set", "sampling.rules.eror.probability=1"},
		{"--set", "sampling.settle_time=2"}, // a number: nanoseconds to the collector
		{"--set", "sampling.max_wait=30 s"},
		{"--set-json", "sampling.rules.baseline.probability=1.5"},
		{"--set", "sampling.rules.baseline.probability=0.5"}, // --set passes "0.5", a string the collector refuses
		{"--set", "sampling.max_buffered_bytes=256Mi"},
		{"--set-json", `sampling.rules.attributes=[{"name":"a","values":["x"]}]`},
		{"--set-json", `sampling.rules.attributes=[{"name":"a","key":"k","scope":"trace","values":["x"]}]`},
	} {
		if out, err := helm(t, append([]string{"template", "x", chartDir}, bad...)...); err == nil {
			t.Errorf("helm template %v succeeded:\n%s", bad, out)
		}
	}
}

func TestHelmGateway(t *testing.T) {
	objs := render(t, "otelcol-mesh-gateway", "observability")
	want := []string{"apps/v1/StatefulSet", "policy/v1/PodDisruptionBudget", "v1/ConfigMap", "v1/Service", "v1/Service", "v1/ServiceAccount"}
	if got := kinds(objs); !slices.Equal(got, want) {
		t.Errorf("gateway mode renders %v, want %v", got, want)
	}
	pods := checkCollectorWorkloads(t, objs)
	checkWorkloadWiring(t, objs)
	checkServices(t, objs, pods)
	if g := gatewayOf(t, objs, pods); g != wantGateway {
		t.Errorf("gateway release otelcol-mesh-gateway is %+v, the files of deploy/ address %+v", g, wantGateway)
	}
	if len(pods) != 1 {
		t.Fatalf("%d collector containers", len(pods))
	}
	checkProcessorOrder(t, pods[0].config)
	if got := exporterEndpoint(t, pods[0].config, pods[0].env); got != "tracing-backend.observability.svc.cluster.local:4317" {
		t.Errorf("exports to %s, want the exporter.endpoint default", got)
	}
	if _, enabled := meshSampling(pods[0].config); !enabled {
		t.Error("the gateway does not sample with default values")
	}
}

func TestHelmAgent(t *testing.T) {
	for _, tc := range []struct {
		name, namespace string
		args            []string
	}{
		{"same namespace", "observability", []string{"--set", "mode=agent"}},
		{"own namespace", "otel-agents", []string{"--set", "mode=agent", "--set", "agent.gatewayNamespace=observability"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agent := render(t, "otelcol-mesh-agent", tc.namespace, tc.args...)
			want := []string{"apps/v1/DaemonSet", "rbac.authorization.k8s.io/v1/Role", "rbac.authorization.k8s.io/v1/RoleBinding", "v1/ConfigMap", "v1/Service", "v1/ServiceAccount"}
			if got := kinds(agent); !slices.Equal(got, want) {
				t.Errorf("agent mode renders %v, want %v", got, want)
			}
			// The agent's resolver and RBAC must fit the gateway release.
			objs := append(render(t, "otelcol-mesh-gateway", "observability"), agent...)
			pods := checkCollectorWorkloads(t, objs)
			checkWorkloadWiring(t, objs)
			checkServices(t, objs, pods)
			if n := checkLoadBalancing(t, objs, pods); n != 1 {
				t.Errorf("%d load_balancing exporters, want 1", n)
			}
			svc := find[corev1.Service](agent, tc.namespace, "otelcol-mesh-agent")
			if svc == nil || svc.Spec.InternalTrafficPolicy == nil || *svc.Spec.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyLocal {
				t.Error("the agent Service must have internalTrafficPolicy: Local")
			}
			wantA := wantAgent
			wantA.fqdn, wantA.namespace = "otelcol-mesh-agent."+tc.namespace+".svc.cluster.local", tc.namespace
			if a, _ := serviceAddress(t, objs, pods, tc.namespace, "otelcol-mesh-agent"); a != wantA {
				t.Errorf("agent release otelcol-mesh-agent is %+v, want %+v", a, wantA)
			}
		})
	}
}

func TestHelmValues(t *testing.T) {
	container := func(t *testing.T, objs []object) corev1.Container {
		t.Helper()
		for _, w := range workloads(objs) {
			return w.template.Spec.Containers[0]
		}
		t.Fatal("no workload")
		return corev1.Container{}
	}
	config := func(t *testing.T, objs []object) collectorConfig {
		t.Helper()
		for _, cm := range ofType[corev1.ConfigMap](objs) {
			return parseCollectorConfig(t, "ConfigMap "+cm.Name, []byte(cm.Data["config.yaml"]))
		}
		t.Fatal("no ConfigMap")
		return collectorConfig{}
	}
	env := map[string]string{"MY_POD_IP": podIP}

	t.Run("GOMEMLIMIT is 80% of the memory limit", func(t *testing.T) {
		for limit, want := range map[string]string{"512Mi": "409MiB", "1Gi": "819MiB", "3Gi": "2457MiB", "100Mi": "80MiB"} {
			c := container(t, render(t, "g", "ns", "--set", "resources.limits.memory="+limit))
			if got, _ := containerEnv(c, "ns"); got["GOMEMLIMIT"] != want {
				t.Errorf("memory limit %s: GOMEMLIMIT %s, want %s", limit, got["GOMEMLIMIT"], want)
			}
			if got := c.Resources.Limits.Memory().String(); got != limit {
				t.Errorf("memory limit %s rendered as %s", limit, got)
			}
		}
	})
	t.Run("image and replicas", func(t *testing.T) {
		objs := render(t, "g", "ns", "--set", "image.repository=registry.example.com/otelcol-mesh", "--set", "image.tag=9.9.9", "--set", "replicas=5")
		if got := container(t, objs).Image; got != "registry.example.com/otelcol-mesh:9.9.9" {
			t.Errorf("image %s", got)
		}
		if got := ofType[appsv1.StatefulSet](objs)[0].Spec.Replicas; got == nil || *got != 5 {
			t.Errorf("replicas %v, want 5", fmtPtr(got))
		}
		if got := container(t, render(t, "g", "ns")).Image; got != expectedImage(t) {
			t.Errorf("default image %s, want %s (appVersion must be the distribution's version)", got, expectedImage(t))
		}
	})
	t.Run("exporter endpoint", func(t *testing.T) {
		cfg := config(t, render(t, "g", "ns", "--set", "exporter.endpoint=tempo.tracing:4317", "--set", "exporter.insecure=true"))
		if got := exporterEndpoint(t, cfg, env); got != "tempo.tracing:4317" {
			t.Errorf("endpoint %s", got)
		}
		if got := at(cfg.m, "exporters", "otlp_grpc", "tls", "insecure"); got != true {
			t.Errorf("tls.insecure %v", got)
		}
		cfg.validate(t, env)
	})
	t.Run("canary subsets", func(t *testing.T) {
		for _, mode := range []string{"gateway", "agent"} {
			cfg := config(t, render(t, "g", "ns", "--set", "mode="+mode, "--set", "canarySubsets={canary,v2}"))
			if got := strings_(at(cfg.m, "processors", "mesh", "canary", "subsets")); !slices.Equal(got, []string{"canary", "v2"}) {
				t.Errorf("%s: mesh canary.subsets %v", mode, got)
			}
			if got := cfg.pipelineComponents("processors"); !slices.Contains(got, "mesh") {
				t.Errorf("%s: mesh is not in the pipeline: %v", mode, got)
			}
			cfg.validate(t, env)
		}
	})
	t.Run("mesh naming", func(t *testing.T) {
		for _, mode := range []string{"gateway", "agent"} {
			// Kiali-safe by default: the processor's default (naming: kiali) is not overridden.
			if got := at(config(t, render(t, "g", "ns", "--set", "mode="+mode)).m, "processors", "mesh", "naming"); got != nil {
				t.Errorf("%s: default mesh naming rendered as %v", mode, got)
			}
			cfg := config(t, render(t, "g", "ns", "--set", "mode="+mode, "--set", "meshNaming=semconv"))
			if got := at(cfg.m, "processors", "mesh", "naming"); got != "semconv" {
				t.Errorf("%s: mesh naming %v, want semconv", mode, got)
			}
			cfg.validate(t, env)
		}
	})
	t.Run("opencensus off", func(t *testing.T) {
		for _, mode := range []string{"gateway", "agent"} {
			objs := render(t, "g", "ns", "--set", "mode="+mode, "--set", "opencensus.enabled=false")
			cfg := config(t, objs)
			if got := at(cfg.m, "receivers", "opencensus"); got != nil {
				t.Errorf("%s: receivers.opencensus is %v", mode, got)
			}
			if got := cfg.pipelineComponents("receivers"); !slices.Equal(got, []string{"otlp", "zipkin"}) {
				t.Errorf("%s: pipeline receivers %v, want [otlp zipkin]", mode, got)
			}
			for _, cp := range container(t, objs).Ports {
				if cp.ContainerPort == 55678 {
					t.Errorf("%s: containerPort 55678 (%s) without the receiver", mode, cp.Name)
				}
			}
			for _, svc := range ofType[corev1.Service](objs) {
				for _, sp := range svc.Spec.Ports {
					if sp.Port == 55678 {
						t.Errorf("%s: Service %s port 55678 without the receiver", mode, svc.Name)
					}
				}
			}
			cfg.validate(t, env)
		}
	})
	t.Run("pod annotations", func(t *testing.T) {
		for _, w := range workloads(render(t, "g", "ns", "--set", "podAnnotations.linkerd\\.io/inject=enabled")) {
			if got := w.template.Annotations["linkerd.io/inject"]; got != "enabled" {
				t.Errorf("linkerd.io/inject=%q", got)
			}
		}
	})
}
