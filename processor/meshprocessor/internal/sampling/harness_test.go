package sampling

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadata"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// sink records what the engine passes on; it can refuse, or block until
// released.
type sink struct {
	mu       sync.Mutex
	got      []ptrace.Traces
	refused  []ptrace.Traces
	refuse   bool
	block    chan struct{} // when set, ConsumeTraces waits for it to close
	entered  chan struct{} // signalled when a call starts blocking
	consumed int
}

func (s *sink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

var errRefused = errors.New("backend refused")

func (s *sink) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	s.mu.Lock()
	block, entered := s.block, s.entered
	s.mu.Unlock()
	if block != nil {
		if entered != nil {
			select {
			case entered <- struct{}{}:
			default:
			}
		}
		select {
		case <-block:
		case <-ctx.Done():
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse {
		s.refused = append(s.refused, td)
		return errRefused
	}
	s.got = append(s.got, td)
	return nil
}

func (s *sink) spans(of []ptrace.Traces) []ptrace.Span {
	var out []ptrace.Span
	for _, td := range of {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					out = append(out, sp)
				}
			}
		}
	}
	return out
}

// batches returns what the sink received, request by request.
func (s *sink) batches() []ptrace.Traces {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

func (s *sink) kept() []ptrace.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spans(s.got)
}

func (s *sink) refusedSpans() []ptrace.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spans(s.refused)
}

// testEngine is an engine with a fake clock, a sink and its telemetry.
type testEngine struct {
	*Engine
	clock *fakeClock
	sink  *sink
	tel   *componenttest.Telemetry
}

func defaultSettings() engineSettings {
	return engineSettings{
		SettleTime: time.Second, MaxWait: 30 * time.Second,
		MaxSpansPerTrace: 10_000, MaxBytesPerTrace: 8 << 20, MaxBufferedBytes: 64 << 20,
		Shards: 4, KeptCacheSize: 1000, DroppedCacheSize: 10_000,
		Rules: ruleSettings{Errors: 1, MeshFailures: 1, Baseline: 0},
	}
}

func newTestEngine(t testing.TB, set engineSettings) *testEngine {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	tb, err := metadata.NewTelemetryBuilder(tel.NewTelemetrySettings())
	require.NoError(t, err)
	te := &testEngine{clock: &fakeClock{now: time.Unix(1_700_000_000, 0)}, sink: &sink{}, tel: tel}
	te.Engine = newEngine(set, te.sink, tb, zap.NewNop(), te.clock)
	te.Start()
	t.Cleanup(func() { _ = te.Shutdown(context.Background()) })
	return te
}

// after advances the clock and runs one decision round.
func (te *testEngine) after(d time.Duration) {
	te.clock.advance(d)
	te.Tick()
}

// counter sums a counter's data points with the given attribute value
// ("" for all).
func (te *testEngine) counter(t testing.TB, name, attrKey, attrValue string) int64 {
	m, err := te.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if attrKey != "" {
			if v, ok := dp.Attributes.Value(attribute.Key(attrKey)); !ok || v.AsString() != attrValue {
				continue
			}
		}
		n += dp.Value
	}
	return n
}
