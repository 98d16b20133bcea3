package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

// backendConfig is a second otelcol-mesh standing in for a tracing backend:
// an OTLP/gRPC receiver with the default 4 MiB receive limit, passing what
// it accepts to the test's sink.
const backendConfig = `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {{.OTLPGRPC}}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_grpc]
`

// bigRequest builds one OTLP request of about size bytes: spans of about
// 1.6 KB (the size of a normalized mesh span) from one client.
func bigRequest(client, n int, size int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("client-%d", client))
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	payload := strings.Repeat("x", 1500)
	now := time.Now()
	for i := 0; ; i++ {
		sp := spans.AppendEmpty()
		var tid pcommon.TraceID
		var sid pcommon.SpanID
		copy(tid[:], fmt.Sprintf("c%03dr%05ds%06d", client, n, i))
		copy(sid[:], fmt.Sprintf("%02x%06d", client, i))
		sp.SetTraceID(tid)
		sp.SetSpanID(sid)
		sp.SetName("GET /big")
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
		sp.Attributes().PutStr("payload", payload)
		if i%64 == 0 && (&ptrace.ProtoMarshaler{}).TracesSize(td) >= size {
			return td
		}
	}
}

// exportSizes returns the number of exports the sink got and the largest
// one in bytes (serialized OTLP request).
func (s *sink) exportSizes() (n, largest int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, td := range s.traces {
		largest = max(largest, (&ptrace.ProtoMarshaler{}).TracesSize(td))
	}
	return len(s.traces), largest
}

// sendBig has clients send requests of about size bytes each to endpoint
// concurrently and returns the spans the gateway acknowledged.
func sendBig(t *testing.T, endpoint string, clients, requests, size int) int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := 0
	for c := range clients {
		wg.Go(func() {
			s, err := meshgen.NewOTLPSender(endpoint, "")
			if !assert.NoError(t, err) {
				return
			}
			defer s.Close()
			for r := range requests {
				td := bigRequest(c, r, size)
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				err := s.Send(ctx, td)
				cancel()
				if assert.NoError(t, err, "client %d request %d", c, r) {
					mu.Lock()
					acked += td.SpanCount()
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return acked
}

// TestExportBoundedInBytes: clients send 3.5 MiB requests (under the
// gateway's own 4 MiB limit) to configs/gateway.yaml, whose backend is an
// otelcol-mesh with the default 4 MiB gRPC receive limit. The gateway's
// exports are batched and split by bytes (sending_queue.batch, sizer bytes,
// max_size 3 MiB): no export exceeds 3 MiB and every span arrives. The same
// traffic through the previous export settings (batch processor bounded by
// 8192 spans, no byte bound) loses spans to permanent ResourceExhausted.
func TestExportBoundedInBytes(t *testing.T) {
	const (
		clients  = 4
		requests = 4
		size     = 3<<20 + 512<<10 // 3.5 MiB
		maxSize  = 3 << 20         // the shipped sending_queue.batch.max_size
	)
	// Sampling off: every span must come out, so that counts compare.
	noSampling := "processors::mesh::sampling::enabled: false"

	t.Run("shipped: bounded in bytes", func(t *testing.T) {
		s := startSink(t)
		backend := startCollector(t, backendConfig, s.addr)
		gw := startShippedGateway(t, backend.ports.OTLPGRPC, t.TempDir(), noSampling)
		acked := sendBig(t, gw.ports.OTLPGRPC, clients, requests, size)
		got := s.waitStable(acked, 5*time.Second, 60*time.Second)
		exports, largest := s.exportSizes()
		m := scrapeMetrics(t, gw.ports.Metrics)
		t.Logf("%d clients x %d requests of %.1f MiB: %d of %d spans arrived in %d exports, largest %.2f MiB; gateway send failures %.0f spans",
			clients, requests, float64(size)/(1<<20), got, acked, exports, float64(largest)/(1<<20), m["otelcol_exporter_send_failed_spans"])
		assert.Equal(t, acked, got, "nothing lost")
		_, dups := s.uniqueSpans()
		assert.Zero(t, dups)
		assert.LessOrEqual(t, largest, maxSize, "no export larger than max_size")
		assert.Greater(t, exports, clients*requests, "3.5 MiB requests were split")
		assert.Zero(t, m["otelcol_exporter_send_failed_spans"])
	})

	t.Run("agent tier: bounded in bytes", func(t *testing.T) {
		// configs/agent.yaml in front of a gateway whose OTLP receiver has
		// the default 4 MiB limit: the agent's batches are split too.
		s := startSink(t)
		gw := startShippedGateway(t, s.addr, t.TempDir(), noSampling)
		agent := &agentTier{p: newPorts(t, ""), dir: t.TempDir()}
		agent.start(t, &gatewayTier{collector: gw})
		acked := sendBig(t, agent.p.OTLPGRPC, clients, requests, size)
		got := s.waitStable(acked, 5*time.Second, 60*time.Second)
		m := scrapeMetrics(t, agent.p.Metrics)
		t.Logf("through the agent: %d of %d spans arrived; agent send failures %.0f spans", got, acked, m["otelcol_exporter_send_failed_spans"])
		assert.Equal(t, acked, got, "nothing lost")
		assert.Zero(t, m["otelcol_exporter_send_failed_spans"])
		assert.Zero(t, scrapeMetrics(t, gw.ports.Metrics)["otelcol_receiver_refused_spans"])
	})

	t.Run("previous settings: bounded in spans only", func(t *testing.T) {
		s := startSink(t)
		backend := startCollector(t, backendConfig, s.addr)
		gw := startShippedGateway(t, backend.ports.OTLPGRPC, t.TempDir(), noSampling,
			"processors::batch: {send_batch_size: 8192, send_batch_max_size: 8192, timeout: 200ms}",
			"service::pipelines::traces::processors: [memory_limiter, mesh, batch]",
			// the previous in-memory queue of 2000 requests, without batch
			"exporters::otlp_grpc::sending_queue: {storage: null, sizer: requests, queue_size: 2000, batch: null}",
		)
		acked := sendBig(t, gw.ports.OTLPGRPC, clients, requests, size)
		require.Eventually(t, func() bool {
			m := scrapeMetrics(t, gw.ports.Metrics)
			return m["otelcol_exporter_sent_spans"]+m["otelcol_exporter_send_failed_spans"] >= float64(acked)
		}, 60*time.Second, 200*time.Millisecond)
		got, _ := s.uniqueSpans()
		m := scrapeMetrics(t, gw.ports.Metrics)
		t.Logf("previous settings: %d of %d acknowledged spans lost (backend refused %.0f spans: ResourceExhausted)", acked-got, acked, m["otelcol_exporter_send_failed_spans"])
		assert.Positive(t, m["otelcol_exporter_send_failed_spans"], "batches of 8192 spans exceed 4 MiB")
		assert.Less(t, got, acked, "and their spans are lost")
		assert.Contains(t, gw.log.String(), "ResourceExhausted")
	})
}
