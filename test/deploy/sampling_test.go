package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// meshSampling returns the sampling block of the config's mesh processors
// in the traces pipelines (nil when none has one) and whether any of them
// samples.
func meshSampling(c collectorConfig) (map[string]any, bool) {
	var block map[string]any
	enabled := false
	for _, id := range c.pipelineComponents("processors") {
		if componentType(id) != "mesh" {
			continue
		}
		if s, ok := at(c.m, "processors", id, "sampling").(map[string]any); ok {
			block = s
			enabled = enabled || s["enabled"] == true
		}
	}
	return block, enabled
}

// checkSampling: a collector that routes with load_balancing (an agent) sees
// only part of each trace and must not sample; a sampling collector bounds
// its buffer explicitly (the processor's own default ignores the memory
// limit) to at most 30% of the memory limit, below the memory_limiter.
func checkSampling(t *testing.T, where string, c collectorConfig, limit int64) {
	t.Helper()
	block, enabled := meshSampling(c)
	lb := false
	for _, id := range c.pipelineComponents("exporters") {
		lb = lb || componentType(id) == "load_balancing"
	}
	if lb && block != nil {
		t.Errorf("%s: exports with load_balancing (agent) and has a mesh sampling block %v: an agent sees only part of each trace", where, block)
	}
	if !enabled {
		return
	}
	n, ok := block["max_buffered_bytes"].(float64)
	if !ok {
		t.Errorf("%s: sampling without max_buffered_bytes: the processor's default (256 MiB) does not follow the memory limit", where)
		return
	}
	if limit <= 0 || n <= 0 || n > 0.3*float64(limit) {
		t.Errorf("%s: sampling.max_buffered_bytes %.0f is more than 30%% of the memory limit %d", where, n, limit)
	}
}

// imageGatewaySampling is the sampling block of configs/gateway.yaml, which
// the manifests and the chart's default follow.
func imageGatewaySampling(t *testing.T) map[string]any {
	t.Helper()
	cfg := parseCollectorConfig(t, "configs/gateway.yaml", readRepoFile(t, "configs/gateway.yaml"))
	block, enabled := meshSampling(cfg)
	if !enabled {
		t.Fatalf("configs/gateway.yaml does not sample: %v", block)
	}
	return block
}

func TestKubernetesGatewaySamples(t *testing.T) {
	_, gw := kubernetesGateway(t)
	block, enabled := meshSampling(gw.config)
	if !enabled {
		t.Fatalf("%s: the gateway does not sample (processors.mesh.sampling %v)", gw.config.source, block)
	}
	if want := imageGatewaySampling(t); !reflect.DeepEqual(block, want) {
		t.Errorf("%s: sampling %v, configs/gateway.yaml has %v", gw.config.source, block, want)
	}
}

// helmConfig renders the chart and returns the collector config of its
// ConfigMap.
func helmConfig(t *testing.T, args ...string) collectorConfig {
	t.Helper()
	objs := render(t, "g", "ns", args...)
	for _, cm := range ofType[corev1.ConfigMap](objs) {
		return parseCollectorConfig(t, fmt.Sprintf("helm template %v: ConfigMap %s", args, cm.Name), []byte(cm.Data["config.yaml"]))
	}
	t.Fatal("no ConfigMap")
	return collectorConfig{}
}

func yamlMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestHelmSampling(t *testing.T) {
	env := map[string]string{"MY_POD_IP": podIP}

	t.Run("default: on, as configs/gateway.yaml", func(t *testing.T) {
		cfg := helmConfig(t)
		block, enabled := meshSampling(cfg)
		if !enabled {
			t.Fatalf("default gateway does not sample: %v", block)
		}
		if want := imageGatewaySampling(t); !reflect.DeepEqual(block, want) {
			t.Errorf("sampling %v, configs/gateway.yaml has %v", block, want)
		}
		cfg.validate(t, env)
	})

	t.Run("max_buffered_bytes follows the memory limit", func(t *testing.T) {
		for limit, want := range map[string]float64{"1Gi": 268435456, "512Mi": 134217728, "3Gi": 805306368, "100Mi": 26214400} {
			cfg := helmConfig(t, "--set", "resources.limits.memory="+limit)
			if got := at(cfg.m, "processors", "mesh", "sampling", "max_buffered_bytes"); got != want {
				t.Errorf("memory limit %s: max_buffered_bytes %v, want %.0f (25%%)", limit, got, want)
			}
			cfg.validate(t, env)
		}
	})

	t.Run("a non-default rule set renders as given and validates", func(t *testing.T) {
		values := `sampling:
  enabled: true
  settle_time: 2s
  max_wait: 1m
  max_spans_per_trace: 5000
  max_bytes_per_trace: 4194304
  max_buffered_bytes: 536870912
  num_shards: 64
  record_rule: true
  decision_cache:
    kept_traces: 50000
    dropped_traces: 500000
  stress_relief:
    enabled: true
    activation_level: 0.85
    deactivation_level: 0.6
    min_active: 30s
    probability: 0.05
  rate_limit:
    traces_per_second: 200
    spans_per_second: 20000
  rules:
    errors:
      probability: 1
    mesh_failures:
      probability: 0.5
    latency:
      probability: 1
      threshold: 750ms
      per_destination:
        reviews: 200ms
    canary:
      probability: 0.25
    attributes:
      - name: checkout
        key: http.route
        values: [/checkout, /pay]
      - name: vip
        key: customer.tier
        scope: resource
        regex: ^(gold|platinum)$
        probability: 0.5
      - name: big
        key: http.response.body.size
        min: 1048576
      - name: debug
        key: debug
        bool: true
    edge_coverage:
      min_traces: 3
      window: 5m
    baseline:
      probability: 0.01
`
		file := filepath.Join(t.TempDir(), "values.yaml")
		if err := os.WriteFile(file, []byte(values), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := helmConfig(t, "-f", file)
		want := yamlMap(t, values)["sampling"]
		if got := at(cfg.m, "processors", "mesh", "sampling"); !reflect.DeepEqual(got, want) {
			t.Errorf("processors.mesh.sampling\n got %v\nwant %v", got, want)
		}
		cfg.validate(t, env)
	})

	t.Run("keys left out get the chart's defaults", func(t *testing.T) {
		cfg := helmConfig(t, "--set", "sampling.rules.latency.threshold=500ms", "--set", "sampling.settle_time=3s")
		want := yamlMap(t, `enabled: true
settle_time: 3s
max_wait: 30s
max_buffered_bytes: 268435456
rules:
  latency:
    threshold: 500ms
`)
		if got := at(cfg.m, "processors", "mesh", "sampling"); !reflect.DeepEqual(got, want) {
			t.Errorf("processors.mesh.sampling\n got %v\nwant %v", got, want)
		}
		cfg.validate(t, env)
	})

	t.Run("the schema takes what the collector takes", func(t *testing.T) {
		for _, args := range [][]string{
			{"--set-json", "sampling.rules.baseline.probability=0.05"},
			{"--set", "sampling.max_wait=1m30s", "--set", "sampling.settle_time=1.5s"},
			{"--set", "sampling.settle_time=500ms", "--set", "sampling.rules.latency.per_destination.ratings=100ms"},
			{"--set-json", `sampling.rules.attributes=[{"name":"slow-db","key":"db.duration_ms","min":250,"probability":0.5}]`},
		} {
			helmConfig(t, args...).validate(t, env)
		}
		cfg := helmConfig(t, "--set", "sampling.rules.latency.per_destination.ratings=100ms")
		if got := at(cfg.m, "processors", "mesh", "sampling", "rules", "latency", "per_destination", "ratings"); got != "100ms" {
			t.Errorf("per_destination ratings renders as %v, want 100ms", got)
		}
	})

	t.Run("off", func(t *testing.T) {
		cfg := helmConfig(t, "--set", "sampling.enabled=false")
		if got, want := at(cfg.m, "processors", "mesh", "sampling"), map[string]any{"enabled": false}; !reflect.DeepEqual(got, want) {
			t.Errorf("processors.mesh.sampling %v, want %v", got, want)
		}
		cfg.validate(t, env)
	})

	t.Run("the binary checks what the chart renders", func(t *testing.T) {
		// What the chart's schema cannot express, the processor's
		// validation refuses, so these render but must not validate.
		for _, args := range [][]string{
			{"--set", "sampling.settle_time=1m"},                                                            // not shorter than max_wait 30s
			{"--set-json", `sampling.rules.attributes=[{"name":"a","key":"k"}]`},                            // no matcher
			{"--set-json", `sampling.rules.attributes=[{"name":"a","key":"k","values":["x"],"regex":"x"}]`}, // two matchers
			{"--set-json", `sampling.stress_relief={"activation_level":0.5,"deactivation_level":0.6}`},      // deactivation above activation
		} {
			cfg := helmConfig(t, args...)
			if out, err := runValidate(t, cfg.raw, env); err == nil {
				t.Errorf("helm template %v: validate accepted:\n%s\n%s", args, cfg.raw, out)
			} else if !strings.Contains(out, "sampling") {
				t.Errorf("helm template %v: validate failed without naming sampling:\n%s", args, out)
			}
		}
	})
}

// TestReadmeSamplingExample: the chart values example of deploy/README.md
// renders into the gateway's config and validates.
func TestReadmeSamplingExample(t *testing.T) {
	readme := string(readRepoFile(t, "deploy/README.md"))
	const start = "```yaml\nsampling:\n"
	i := strings.Index(readme, start)
	if i < 0 {
		t.Fatal("deploy/README.md has no ```yaml block of chart values starting with sampling:")
	}
	block := readme[i+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	file := filepath.Join(t.TempDir(), "sampling.yaml")
	if err := os.WriteFile(file, []byte(block), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := helmConfig(t, "-f", file)
	given := yamlMap(t, block)["sampling"].(map[string]any)
	got, enabled := meshSampling(cfg)
	if !enabled {
		t.Errorf("the README example does not sample: %v", got)
	}
	for k, v := range given {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("sampling.%s renders as %v, the README gives %v", k, got[k], v)
		}
	}
	cfg.validate(t, map[string]string{"MY_POD_IP": podIP})
}
