package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

// samplingOverrides draws a few changes to the gateway's mesh sampling
// settings, around their bounds; `validate` decides which are valid.
func samplingOverrides(rng *rand.Rand) []string {
	const key = "processors::mesh::sampling::"
	choices := [][]string{
		{"settle_time: 0s", "settle_time: 1ms", "settle_time: 50ms", "settle_time: -1s"},
		{"max_wait: 100ms", "max_wait: 300ms", "max_wait: 2h"},
		{"max_spans_per_trace: 0", "max_spans_per_trace: 1", "max_spans_per_trace: 2", "max_spans_per_trace: 2000000"},
		{"max_bytes_per_trace: 512", "max_bytes_per_trace: 0"},
		{"max_buffered_bytes: 65536", "max_buffered_bytes: 1024", "max_buffered_bytes: 262144"},
		{"num_shards: 1", "num_shards: 4096", "num_shards: 1000000"},
		{"decision_cache::kept_traces: 1", "decision_cache::dropped_traces: 0"},
		{"stress_relief::probability: 0", "stress_relief::probability: .nan", "stress_relief::probability: 0.001"},
		{"stress_relief::activation_level: 0.5", "stress_relief::deactivation_level: 0.95"},
		{"rate_limit::traces_per_second: 0.5", "rate_limit::spans_per_second: 1", "rate_limit::traces_per_second: .nan"},
		{"rules::errors::probability: 0", "rules::errors::probability: 1.5", "rules::baseline::probability: 1", "rules::baseline::probability: .nan"},
		{"rules::latency::threshold: 1ns", "rules::latency::threshold: 48h", "rules::edge_coverage::min_traces: 5"},
	}
	var out []string
	for range 1 + rng.IntN(4) {
		c := choices[rng.IntN(len(choices))]
		out = append(out, key+c[rng.IntN(len(c))])
	}
	return out
}

// TestRandomGatewayConfigs: the shipped gateway config with random sampling
// overrides. What `validate` refuses names the key; what it accepts runs
// the real binary under meshgen load and stops cleanly on SIGTERM (the
// stop in launch's cleanup fails the test otherwise), without a panic.
func TestRandomGatewayConfigs(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("E2E_CONFIG_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (E2E_CONFIG_SEED reruns it)", seed)
	rng := rand.New(rand.NewPCG(seed, 9))
	valid, refused := 0, 0
	for valid < 4 || refused < 2 {
		overrides := samplingOverrides(rng)
		args := []string{"validate", "--config", repoPath("configs", "gateway.yaml")}
		for _, o := range overrides {
			args = append(args, "--config", "yaml:"+o)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Env = append(os.Environ(), "OTELCOL_MESH_STORAGE_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			refused++
			assert.Contains(t, string(out), "sampling.", "the refusal names the key: %v\n%s", overrides, out)
			assert.NotContains(t, string(out), "panic")
			continue
		}
		if valid >= 4 {
			continue
		}
		valid++
		t.Run(fmt.Sprint(valid), func(t *testing.T) {
			t.Logf("overrides %v", overrides)
			s := startSink(t)
			c := startGateway(t, s.addr, overrides...)
			opts := meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.1, FlagRate: 0.05, Seed: rng.Uint64()}
			sender, err := meshgen.NewSender("otlp", c.ports.OTLPGRPC, opts)
			require.NoError(t, err)
			g := meshgen.New(opts)
			for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
				require.NoError(t, sender.Send(t.Context(), g.Next().Traces))
			}
			require.NoError(t, sender.Close())
			m := scrapeMetrics(t, c.ports.Metrics)
			assert.Positive(t, m["otelcol_processor_mesh_spans"], "the gateway processed the load")
			c.stop(t)
			assert.NotContains(t, c.log.String(), "panic")
			assert.True(t, c.cmd.ProcessState.Success(), "exit status after SIGTERM: %v", c.cmd.ProcessState)
		})
	}
	t.Logf("%d valid override sets run, %d refused by validate", valid, refused)
}
