package meshprocessor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadatatest"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/sampling"
)

// randomSampling changes one to six settings of the defaults to values
// around their bounds: zero, tiny, huge, negative, NaN. Validate decides
// which are valid.
func randomSampling(rng *rand.Rand) sampling.Config {
	pick := func(vs ...float64) float64 { return vs[rng.IntN(len(vs))] }
	dur := func(vs ...time.Duration) time.Duration { return vs[rng.IntN(len(vs))] }
	num := func(vs ...int) int { return vs[rng.IntN(len(vs))] }
	prob := func() float64 { return pick(0, 1e-9, 0.001, 0.1, 0.5, 1, 1.5, -0.1, math.NaN(), rng.Float64()) }
	s := sampling.DefaultConfig()
	s.Enabled = true
	s.StressRelief.Enabled = rng.IntN(2) == 0
	mutators := []func(){
		func() { s.SettleTime = dur(0, time.Nanosecond, time.Millisecond, 50*time.Millisecond, -time.Second) },
		func() { s.MaxWait = dur(time.Millisecond, 100*time.Millisecond, 300*time.Millisecond, 2*time.Hour) },
		func() { s.MaxSpansPerTrace = num(-1, 0, 1, 2, 9, 2_000_000) },
		func() { s.MaxBytesPerTrace = num(0, 1, 512, 4096, 1<<31) },
		func() { s.MaxBufferedBytes = int64(num(0, 1024, 64<<10, 256<<10)) },
		func() { s.NumShards = num(-1, 1, 3, 64, 4096, 1_000_000) },
		func() { s.DecisionCache.KeptTraces = num(0, 1, 10, 1<<40) },
		func() { s.DecisionCache.DroppedTraces = num(0, 1, 16) },
		func() { s.StressRelief.ActivationLevel = pick(0, 0.5, 1, 1.1, math.NaN()) },
		func() { s.StressRelief.DeactivationLevel = pick(0, 0.25, 0.95, math.NaN()) },
		func() { s.StressRelief.MinActive = dur(0, time.Millisecond, -time.Second) },
		func() { s.StressRelief.Probability = prob() },
		func() { s.RateLimit.TracesPerSecond = pick(0.5, 10, 1e6, -1, math.NaN(), math.Inf(1)) },
		func() { s.RateLimit.SpansPerSecond = pick(1, 100, -1, math.NaN()) },
		func() { s.RecordRule = !s.RecordRule },
		func() { s.Rules.Errors.Probability = prob() },
		func() { s.Rules.MeshFailures.Probability = prob() },
		func() { s.Rules.Canary.Probability = prob() },
		func() { s.Rules.Baseline.Probability = prob() },
		func() { s.Rules.Latency.Probability = prob() },
		func() { s.Rules.Latency.Threshold = dur(0, time.Nanosecond, 10*time.Millisecond, 48*time.Hour) },
		func() { s.Rules.EdgeCoverage.MinTraces = num(-1, 0, 5) },
		func() { s.Rules.EdgeCoverage.Window = dur(0, time.Millisecond) },
		func() {
			lo, hi := pick(0, 100, math.NaN()), pick(50, 1000)
			s.Rules.Attributes = []sampling.AttributeRuleConfig{{Name: "code", Key: "http.response.status_code", Min: &lo, Max: &hi}}
		},
	}
	for range 1 + rng.IntN(6) {
		mutators[rng.IntN(len(mutators))]()
	}
	return s
}

// TestRandomValidConfigsRunUnderLoad: every sampling configuration that
// Validate accepts runs: under concurrent load from two senders with the
// real clock, with a next consumer that sometimes refuses, it does not
// panic, shuts down within its deadline, leaves nothing buffered, and
// accounts for every span (passed on, refused, or counted as dropped).
func TestRandomValidConfigsRunUnderLoad(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	valid, refused := 0, 0
	for valid < 25 {
		s := randomSampling(rng)
		cfg := createDefaultConfig().(*Config)
		cfg.Sampling = s
		if err := confmap.Validate(cfg); err != nil {
			refused++
			continue
		}
		valid++
		t.Run(fmt.Sprint(valid), func(t *testing.T) {
			t.Logf("%+v", s)
			runUnderLoad(t, cfg, rng.Uint64())
		})
	}
	t.Logf("%d valid configurations run, %d refused by Validate", valid, refused)
}

// refusing passes spans to a sink, or refuses them all when set.
type refusing struct {
	consumertest.TracesSink
	refuse  bool
	refused int
	mu      sync.Mutex
}

func (r *refusing) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse {
		r.refused += td.SpanCount()
		return errors.New("refused")
	}
	return r.TracesSink.ConsumeTraces(ctx, td)
}

func (r *refusing) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func runUnderLoad(t *testing.T, cfg *Config, seed uint64) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	next := &refusing{refuse: seed%4 == 0}
	p, err := NewFactory().CreateTraces(t.Context(), metadatatest.NewSettings(tel), cfg, next)
	require.NoError(t, err)
	require.NoError(t, p.Start(t.Context(), componenttest.NewNopHost()))

	var wg sync.WaitGroup
	var sentMu sync.Mutex
	sent := 0
	stop := time.Now().Add(250 * time.Millisecond)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := meshgen.New(meshgen.Options{Mesh: []meshgen.Mesh{meshgen.Istio, meshgen.Linkerd, meshgen.Envoy}[seed%3], ErrorRate: 0.1, FlagRate: 0.05, Seed: seed + uint64(w)})
			for time.Now().Before(stop) {
				td := g.Next().Traces
				n := td.SpanCount()
				if err := p.ConsumeTraces(context.Background(), td); err == nil {
					sentMu.Lock()
					sent += n
					sentMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, p.Shutdown(ctx), "shutdown within its deadline")
	assert.Less(t, time.Since(start), 10*time.Second)

	sum := func(name string) int {
		m, err := tel.GetMetric(name)
		if err != nil {
			return 0
		}
		n := int64(0)
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			n += dp.Value
		}
		return int(n)
	}
	assert.Zero(t, sum("otelcol_processor_mesh_sampling_bytes_buffered"), "nothing buffered after shutdown")
	assert.Zero(t, sum("otelcol_processor_mesh_sampling_traces_buffered"))
	passed := next.SpanCount()
	assert.Equal(t, next.refused, sum("otelcol_processor_mesh_sampling_refused_spans"))
	assert.Equal(t, sent, passed+next.refused+sum("otelcol_processor_mesh_sampling_dropped_spans"),
		"every span accounted for: %d sent, %d passed, %d refused", sent, passed, next.refused)
	assert.Positive(t, sent)
}
