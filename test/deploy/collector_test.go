package deploy

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// collectorConfig is a collector configuration found in a deploy file.
type collectorConfig struct {
	source string
	raw    []byte
	m      map[string]any
}

func parseCollectorConfig(t *testing.T, source string, raw []byte) collectorConfig {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: collector config: %v", source, err)
	}
	return collectorConfig{source: source, raw: raw, m: m}
}

// at walks nested maps: at(m, "receivers", "otlp").
func at(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

func strings_(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		out = append(out, str(e))
	}
	return out
}

// pipelineComponents lists the components of one kind ("receivers",
// "processors", "exporters") used by any pipeline.
func (c collectorConfig) pipelineComponents(kind string) []string {
	seen := map[string]bool{}
	pipelines, _ := at(c.m, "service", "pipelines").(map[string]any)
	for _, p := range pipelines {
		for _, id := range strings_(at(p, kind)) {
			seen[id] = true
		}
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// componentType is the type part of a component ID ("otlp" of "otlp/in").
func componentType(id string) string { return strings.SplitN(id, "/", 2)[0] }

var envRef = regexp.MustCompile(`\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)

// envRefs lists the environment variables the config reads without a default.
func (c collectorConfig) envRefsWithoutDefault() []string {
	var out []string
	for _, m := range envRef.FindAllStringSubmatch(string(c.raw), -1) {
		if !strings.Contains(m[0], ":-") {
			out = append(out, m[1])
		}
	}
	return out
}

// expand resolves ${env:NAME} and ${env:NAME:-default} with env.
func expand(s string, env map[string]string) string {
	return envRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := envRef.FindStringSubmatch(ref)
		if v, ok := env[m[1]]; ok && v != "" {
			return v
		}
		return m[2]
	})
}

// listener is a TCP port the collector listens on.
type listener struct {
	component string // receivers/otlp/grpc, extensions/health_check, telemetry/prometheus
	host      string
	port      int32
}

func (l listener) loopback() bool {
	if l.host == "localhost" {
		return true
	}
	ip := net.ParseIP(l.host)
	return ip != nil && ip.IsLoopback()
}

// listeners lists every address the config listens on, with env applied. An
// endpoint left to its default is an error: defaults bind localhost, which
// nothing outside the pod reaches.
func (c collectorConfig) listeners(env map[string]string) ([]listener, error) {
	var out []listener
	add := func(component string, endpoint any) error {
		ep := expand(str(endpoint), env)
		if ep == "" {
			return fmt.Errorf("%s: no endpoint: set it explicitly", component)
		}
		host, port, err := net.SplitHostPort(ep)
		if err != nil {
			return fmt.Errorf("%s: endpoint %q: %v", component, ep, err)
		}
		p, err := strconv.ParseInt(port, 10, 32)
		if err != nil {
			return fmt.Errorf("%s: endpoint %q: %v", component, ep, err)
		}
		out = append(out, listener{component: component, host: host, port: int32(p)})
		return nil
	}
	for _, id := range c.pipelineComponents("receivers") {
		rc := at(c.m, "receivers", id)
		if protocols, ok := at(rc, "protocols").(map[string]any); ok {
			names := make([]string, 0, len(protocols))
			for name := range protocols {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				if err := add("receivers/"+id+"/"+name, at(protocols, name, "endpoint")); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := add("receivers/"+id, at(rc, "endpoint")); err != nil {
			return nil, err
		}
	}
	for _, id := range strings_(at(c.m, "service", "extensions")) {
		if !listeningExtension(componentType(id)) {
			continue
		}
		if err := add("extensions/"+id, at(c.m, "extensions", id, "endpoint")); err != nil {
			return nil, err
		}
	}
	readers, _ := at(c.m, "service", "telemetry", "metrics", "readers").([]any)
	for _, r := range readers {
		prom := at(r, "pull", "exporter", "prometheus")
		if prom == nil {
			continue
		}
		host := expand(str(at(prom, "host")), env)
		if err := add("telemetry/prometheus", net.JoinHostPort(host, str(at(prom, "port")))); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// listeningExtension: whether an extension type serves on an endpoint
// (health_check, zpages, pprof do; storage, authenticators and middlewares do not).
func listeningExtension(typ string) bool {
	switch typ {
	case "journal_storage", "bearertokenauth", "decode_guard":
		return false
	}
	return true
}

// port returns the port of the listener of a component ("receivers/otlp/grpc").
func port(ls []listener, component string) int32 {
	for _, l := range ls {
		if l.component == component {
			return l.port
		}
	}
	return 0
}

// healthCheckPath is the health_check extension's path ("/" by default).
func (c collectorConfig) healthCheckPath() string {
	if p := str(at(c.m, "extensions", "health_check", "path")); p != "" {
		return p
	}
	return "/"
}

// validate runs `otelcol-mesh validate` on the config with exactly env as the
// environment.
func (c collectorConfig) validate(t *testing.T, env map[string]string) {
	t.Helper()
	if out, err := runValidate(t, c.raw, env); err != nil {
		t.Errorf("%s: otelcol-mesh validate: %v\n%s\nconfig:\n%s", c.source, err, out, c.raw)
	}
}

func runValidate(t *testing.T, raw []byte, env map[string]string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), binary, "validate", "--config", path)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestValidateRejectsBrokenConfigs proves that validation through the binary
// fails where it must, so that passing validations elsewhere mean something.
func TestValidateRejectsBrokenConfigs(t *testing.T) {
	good := `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${env:MY_POD_IP}:4317
processors:
  mesh: {}
exporters:
  nop: {}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [mesh]
      exporters: [nop]
`
	env := map[string]string{"MY_POD_IP": "10.0.0.7"}
	if out, err := runValidate(t, []byte(good), env); err != nil {
		t.Fatalf("the baseline config does not validate: %v\n%s", err, out)
	}
	broken := map[string]string{
		"unknown receiver key":   strings.Replace(good, "        endpoint:", "        endpont:", 1),
		"unknown mesh key":       strings.Replace(good, "  mesh: {}", "  mesh: {no_such_key: true}", 1),
		"component not in build": strings.Replace(good, "  nop: {}", "  nop: {}\n  kafka: {}", 1) + "",
		"undefined processor":    strings.Replace(good, "processors: [mesh]", "processors: [mesh, batch]", 1),
	}
	for name, cfg := range broken {
		t.Run(name, func(t *testing.T) {
			if out, err := runValidate(t, []byte(cfg), env); err == nil {
				t.Errorf("validate accepted:\n%s\n%s", cfg, out)
			}
		})
	}
}
