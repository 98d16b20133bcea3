package deploy

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Where the secured configs read their certificates and token: the defaults
// of configs/gateway-secure.yaml, the Helm chart's mounts and the optional
// Secret mounts of deploy/kubernetes/gateway.yaml.
const (
	tlsDir  = "/etc/otelcol-mesh/tls"
	authDir = "/etc/otelcol-mesh/auth"
)

// fileKeys are the config keys that name a file the collector reads at
// startup: TLS material (server and client side) and the token file of the
// bearertokenauth extension.
var fileKeys = map[string]bool{"cert_file": true, "key_file": true, "ca_file": true, "client_ca_file": true}

// configFiles lists the files a collector config reads (env expanded), as
// "<config path>: <file>" keyed by file.
func configFiles(c collectorConfig, env map[string]string) map[string]string {
	out := map[string]string{}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && fileKeys[k] && s != "" {
					out[expand(s, env)] = where + "." + k
				}
				walk(where+"."+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", where, i), e)
			}
		}
	}
	for _, kind := range []string{"receivers", "exporters", "extensions"} {
		walk(kind, c.m[kind])
	}
	if exts, ok := c.m["extensions"].(map[string]any); ok {
		for id, e := range exts {
			if componentType(id) == "bearertokenauth" {
				if f := str(at(e, "filename")); f != "" {
					out[expand(f, env)] = "extensions." + id + ".filename"
				}
			}
		}
	}
	return out
}

// checkSecretFiles: every file the config reads is on a read-only Secret
// volume of the container that has it (an items list, when given, maps it).
// A key, a certificate or a token in a ConfigMap or an image would leak.
func checkSecretFiles(t *testing.T, where string, p collectorPod) {
	t.Helper()
	for file, key := range configFiles(p.config, p.env) {
		vol, rel, ok := volumeOf(p, file)
		if !ok {
			t.Errorf("%s: %s reads %s, which is on no read-only volume of the container", where, key, file)
			continue
		}
		if vol.Secret == nil {
			t.Errorf("%s: %s reads %s from volume %q, which is not a Secret", where, key, file, vol.Name)
			continue
		}
		if items := vol.Secret.Items; len(items) > 0 && !slices.ContainsFunc(items, func(i corev1.KeyToPath) bool { return i.Path == rel }) {
			t.Errorf("%s: %s reads %s, but Secret volume %q maps no item to %s", where, key, file, vol.Name, rel)
		}
	}
}

// volumeOf finds the container's volume mount under which file lies.
func volumeOf(p collectorPod, file string) (*corev1.Volume, string, bool) {
	for _, vm := range p.container.VolumeMounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok {
			continue
		}
		if !vm.ReadOnly {
			return nil, "", false
		}
		for i := range p.template.Spec.Volumes {
			if v := &p.template.Spec.Volumes[i]; v.Name == vm.Name {
				return v, rel, true
			}
		}
	}
	return nil, "", false
}

// receiverServers returns the server blocks of a config's pipeline
// receivers (each OTLP protocol on its own), keyed by receivers/<id>[/<protocol>].
func receiverServers(c collectorConfig) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, id := range c.pipelineComponents("receivers") {
		r, _ := at(c.m, "receivers", id).(map[string]any)
		if protocols, ok := r["protocols"].(map[string]any); ok {
			for name, p := range protocols {
				m, _ := p.(map[string]any)
				out["receivers/"+id+"/"+name] = m
			}
			continue
		}
		out["receivers/"+id] = r
	}
	return out
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkSecuredReceivers: every receiver serves TLS with the mounted
// certificate, requires client certificates when clientAuth, and the
// bearer token when auth.
func checkSecuredReceivers(t *testing.T, where string, c collectorConfig, clientAuth, auth bool) {
	t.Helper()
	servers := receiverServers(c)
	if len(servers) < 4 {
		t.Errorf("%s: receivers %v, want OTLP gRPC and HTTP, Zipkin, OpenCensus", where, sortedKeys(servers))
	}
	for id, s := range servers {
		if got := str(at(s, "tls", "cert_file")); got != tlsDir+"/tls.crt" {
			t.Errorf("%s: %s tls.cert_file %q", where, id, got)
		}
		if got := str(at(s, "tls", "key_file")); got != tlsDir+"/tls.key" {
			t.Errorf("%s: %s tls.key_file %q", where, id, got)
		}
		if got, want := str(at(s, "tls", "client_ca_file")), map[bool]string{true: tlsDir + "/ca.crt"}[clientAuth]; got != want {
			t.Errorf("%s: %s tls.client_ca_file %q, want %q", where, id, got, want)
		}
		if got, want := str(at(s, "auth", "authenticator")), map[bool]string{true: "bearertokenauth"}[auth]; got != want {
			t.Errorf("%s: %s auth.authenticator %q, want %q", where, id, got, want)
		}
	}
	checkTokenExtension(t, where, c, auth)
}

func checkTokenExtension(t *testing.T, where string, c collectorConfig, auth bool) {
	t.Helper()
	inService := slices.Contains(strings_(at(c.m, "service", "extensions")), "bearertokenauth")
	if inService != auth {
		t.Errorf("%s: bearertokenauth in service.extensions: %v, want %v", where, inService, auth)
	}
	if got, want := str(at(c.m, "extensions", "bearertokenauth", "filename")), map[bool]string{true: authDir + "/token"}[auth]; got != want {
		t.Errorf("%s: bearertokenauth filename %q, want %q", where, got, want)
	}
}

func secretVolumes(w workload) map[string]string {
	out := map[string]string{}
	for _, v := range w.template.Spec.Volumes {
		if v.Secret != nil {
			out[v.Name] = v.Secret.SecretName
		}
	}
	return out
}

func TestHelmSecurity(t *testing.T) {
	const ns = "observability"
	secured := []string{"--set", "tls.secretName=gw-tls", "--set", "auth.secretName=gw-token"}

	t.Run("gateway", func(t *testing.T) {
		objs := render(t, "otelcol-mesh-gateway", ns, secured...)
		pods := checkCollectorWorkloads(t, objs) // validates the config, checkSecretFiles
		if len(pods) != 1 {
			t.Fatalf("%d collector containers", len(pods))
		}
		p := pods[0]
		checkSecuredReceivers(t, "gateway", p.config, true, true)
		if got := secretVolumes(p.workload); len(got) != 2 || got["tls"] != "gw-tls" || got["auth"] != "gw-token" {
			t.Errorf("Secret volumes %v, want tls: gw-tls, auth: gw-token", got)
		}
		if got := exporterEndpoint(t, p.config, p.env); got != "tracing-backend.observability.svc.cluster.local:4317" {
			t.Errorf("the backend exporter changed: %s", got)
		}
		// The token and key never enter the ConfigMap: only paths.
		for _, cm := range ofType[corev1.ConfigMap](objs) {
			if strings.Contains(cm.Data["config.yaml"], "token:") || strings.Contains(cm.Data["config.yaml"], "_pem") {
				t.Errorf("ConfigMap %s holds secret material inline", cm.Name)
			}
		}
	})
	t.Run("gateway without client certificates or token", func(t *testing.T) {
		objs := render(t, "otelcol-mesh-gateway", ns, "--set", "tls.secretName=gw-tls", "--set", "tls.clientAuth=false")
		pods := checkCollectorWorkloads(t, objs)
		if len(pods) != 1 {
			t.Fatalf("%d collector containers", len(pods))
		}
		checkSecuredReceivers(t, "gateway", pods[0].config, false, false)
		if got := secretVolumes(pods[0].workload); len(got) != 1 || got["tls"] != "gw-tls" {
			t.Errorf("Secret volumes %v, want tls: gw-tls", got)
		}
	})
	t.Run("off by default", func(t *testing.T) {
		for _, mode := range []string{"gateway", "agent"} {
			objs := render(t, "x", ns, "--set", "mode="+mode)
			for _, p := range checkCollectorWorkloads(t, objs) {
				for id, s := range receiverServers(p.config) {
					if s["tls"] != nil || s["auth"] != nil {
						t.Errorf("%s: %s has tls or auth by default", mode, id)
					}
				}
				checkTokenExtension(t, mode, p.config, false)
				if got := secretVolumes(p.workload); len(got) != 0 {
					t.Errorf("%s: Secret volumes %v by default", mode, got)
				}
			}
		}
	})
	t.Run("agent to secured gateways", func(t *testing.T) {
		agent := render(t, "otelcol-mesh-agent", ns, append([]string{"--set", "mode=agent"}, "--set", "tls.secretName=agent-tls", "--set", "auth.secretName=gw-token")...)
		objs := append(render(t, "otelcol-mesh-gateway", ns, secured...), agent...)
		pods := checkCollectorWorkloads(t, objs)
		checkWorkloadWiring(t, objs)
		checkServices(t, objs, pods)
		if n := checkLoadBalancing(t, objs, pods); n != 1 {
			t.Errorf("%d load_balancing exporters, want 1", n)
		}
		n := checkSecuredLoadBalancing(t, pods)
		if n != 1 {
			t.Fatalf("%d agents checked", n)
		}
		for _, p := range pods {
			if p.template.Labels["app.kubernetes.io/component"] != "agent" {
				continue
			}
			// Local senders (proxies, sidecars) reach the agents in clear.
			for id, s := range receiverServers(p.config) {
				if s["tls"] != nil || s["auth"] != nil {
					t.Errorf("agent %s has tls or auth: local senders cannot present them", id)
				}
			}
			lb := at(p.config.m, "exporters", "load_balancing", "protocol", "otlp")
			if got := str(at(lb, "tls", "server_name_override")); got != "otelcol-mesh-gateway-headless.observability.svc" {
				t.Errorf("agent: server_name_override %q, want the gateways' headless Service name", got)
			}
		}
		custom := render(t, "a", ns, "--set", "mode=agent", "--set", "tls.secretName=t", "--set", "tls.serverName=gateway.example.internal")
		for _, p := range checkCollectorWorkloads(t, custom) {
			if got := str(at(p.config.m, "exporters", "load_balancing", "protocol", "otlp", "tls", "server_name_override")); got != "gateway.example.internal" {
				t.Errorf("tls.serverName: server_name_override %q", got)
			}
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, bad := range [][]string{
			{"--set", "auth.secretName=gw-token"}, // a token in clear
			{"--set", "mode=agent", "--set", "auth.secretName=gw-token"},
			{"--set", "tls.secretname=gw-tls"},
			{"--set", "tls.clientAuth=yes"},
			{"--set", "auth.token=s3cr3t"}, // tokens come from Secrets only
		} {
			if out, err := helm(t, append([]string{"template", "x", chartDir}, bad...)...); err == nil {
				t.Errorf("helm template %v succeeded:\n%s", bad, out)
			}
		}
	})
}

// checkSecuredLoadBalancing: an agent whose gateways require TLS, client
// certificates or a token sends them, from mounted Secrets. It returns the
// number of load_balancing exporters checked.
func checkSecuredLoadBalancing(t *testing.T, pods []collectorPod) int {
	t.Helper()
	var gateway *collectorPod
	for i, p := range pods {
		if p.template.Labels["app.kubernetes.io/component"] == "gateway" {
			gateway = &pods[i]
		}
	}
	if gateway == nil {
		t.Fatal("no gateway")
	}
	grpc := receiverServers(gateway.config)["receivers/otlp/grpc"]
	n := 0
	for _, p := range pods {
		if !slices.Contains(p.config.pipelineComponents("exporters"), "load_balancing") {
			continue
		}
		n++
		where := p.config.source + ": load_balancing"
		otlp := at(p.config.m, "exporters", "load_balancing", "protocol", "otlp")
		if at(grpc, "tls") != nil {
			if at(otlp, "tls", "insecure") == true {
				t.Errorf("%s: tls.insecure, but the gateways serve TLS", where)
			}
			if str(at(otlp, "tls", "ca_file")) == "" {
				t.Errorf("%s: no tls.ca_file to verify the gateways", where)
			}
		}
		if at(grpc, "tls", "client_ca_file") != nil && (str(at(otlp, "tls", "cert_file")) == "" || str(at(otlp, "tls", "key_file")) == "") {
			t.Errorf("%s: the gateways require client certificates; no tls.cert_file/key_file", where)
		}
		if at(grpc, "auth") != nil {
			if got := str(at(otlp, "auth", "authenticator")); got != "bearertokenauth" {
				t.Errorf("%s: the gateways require a bearer token; auth.authenticator %q", where, got)
			}
			checkTokenExtension(t, where, p.config, true)
		}
	}
	return n
}

// TestKubernetesGatewaySecurity: deploy/kubernetes/gateway.yaml mounts the
// TLS and token Secrets (optional, so the plain config runs without them)
// where configs/gateway-secure.yaml reads them by default, and that config
// validates with the manifest's environment.
func TestKubernetesGatewaySecurity(t *testing.T) {
	_, p := kubernetesGateway(t)
	secure := parseCollectorConfig(t, "configs/gateway-secure.yaml", readRepoFile(t, "configs/gateway-secure.yaml"))
	secure.validate(t, p.env)
	checkSecuredReceiverFiles(t, secure, p.env)

	files := configFiles(secure, p.env)
	if len(files) != 4 {
		t.Errorf("configs/gateway-secure.yaml reads %v, want the certificate, key, client CA and token", files)
	}
	sp := p
	sp.config = secure
	checkSecretFiles(t, "deploy/kubernetes/gateway.yaml with configs/gateway-secure.yaml", sp)
	for file := range files {
		vol, _, ok := volumeOf(p, file)
		if !ok || vol.Secret == nil {
			continue // reported above
		}
		if vol.Secret.Optional == nil || !*vol.Secret.Optional {
			t.Errorf("Secret volume %q must be optional: the shipped plain config runs without it", vol.Name)
		}
	}
	if got := secretVolumes(p.workload); got["tls"] != "otelcol-mesh-gateway-tls" || got["auth"] != "otelcol-mesh-gateway-token" {
		t.Errorf("Secret volumes %v", got)
	}
}

// checkSecuredReceiverFiles: every receiver of the secure config has TLS with
// client certificates and the authenticator, reading the default paths.
func checkSecuredReceiverFiles(t *testing.T, c collectorConfig, env map[string]string) {
	t.Helper()
	for id, s := range receiverServers(c) {
		for k, want := range map[string]string{"cert_file": "tls.crt", "key_file": "tls.key", "client_ca_file": "ca.crt"} {
			if got := expand(str(at(s, "tls", k)), env); got != path.Join(tlsDir, want) {
				t.Errorf("%s: %s tls.%s is %q, want %s", c.source, id, k, got, path.Join(tlsDir, want))
			}
		}
		if got := str(at(s, "auth", "authenticator")); got != "bearertokenauth" {
			t.Errorf("%s: %s auth.authenticator %q", c.source, id, got)
		}
	}
	if got := expand(str(at(c.m, "extensions", "bearertokenauth", "filename")), env); got != authDir+"/token" {
		t.Errorf("%s: bearertokenauth filename %q", c.source, got)
	}
}

// TestSecurityDocumented: deploy/README.md explains the options.
func TestSecurityDocumented(t *testing.T) {
	readme := string(readRepoFile(t, "deploy/README.md"))
	for _, fact := range []string{
		"configs/gateway-secure.yaml", "tls.secretName", "tls.clientAuth", "tls.serverName", "auth.secretName",
		"otelcol-mesh-gateway-tls", "otelcol-mesh-gateway-token", "bearertokenauth", "ca.crt",
	} {
		if !strings.Contains(readme, fact) {
			t.Errorf("deploy/README.md does not mention %q", fact)
		}
	}
}
