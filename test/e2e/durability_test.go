package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

// shippedArgs runs a shipped config (configs/<file>) with its listeners,
// health check and internal metrics moved to the free loopback ports p, plus
// overrides (yaml: provider, key::path: value).
func shippedArgs(file string, p ports, overrides ...string) []string {
	args := []string{"--config", repoPath("configs", file)}
	for _, o := range append([]string{
		"receivers::otlp::protocols::grpc::endpoint: " + p.OTLPGRPC,
		"receivers::otlp::protocols::http::endpoint: " + p.OTLPHTTP,
		"receivers::zipkin::endpoint: " + p.Zipkin,
		"receivers::opencensus::endpoint: " + p.OpenCensus,
		"extensions::health_check::endpoint: " + p.Health,
		"service::telemetry::metrics::readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: " + fmt.Sprint(p.MetricsPort) + "}}}}]",
	}, overrides...) {
		args = append(args, "--config", "yaml:"+o)
	}
	return args
}

// startShippedGateway runs configs/gateway.yaml exporting to backend, with its
// persistent sending queue in storageDir.
func startShippedGateway(t *testing.T, backend, storageDir string, overrides ...string) *collector {
	t.Helper()
	return launch(t, backend, func(p ports) ([]string, []string) {
		return []string{
			"OTELCOL_MESH_BACKEND_ENDPOINT=" + backend,
			"OTELCOL_MESH_BACKEND_INSECURE=true",
			"OTELCOL_MESH_STORAGE_DIR=" + storageDir,
		}, shippedArgs("gateway.yaml", p, overrides...)
	})
}

// kill ends the collector with SIGKILL: no shutdown, nothing flushed.
func (c *collector) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
	err := <-c.done
	c.done <- err
}

// terminate ends the collector with SIGTERM and fails the test unless it
// exits cleanly within 20 s.
func (c *collector) terminate(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	c.stop(t)
	return time.Since(start)
}

// startSinkOn starts the OTLP sink on a given address, with the default gRPC
// receive limit of maxRecv bytes (0: 256 MiB).
func startSinkOn(t *testing.T, addr string) *sink {
	t.Helper()
	var l net.Listener
	var err error
	for range 50 { // the address was free a moment ago; a TIME_WAIT may linger
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err)
	s := &sink{addr: addr}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(256 << 20))
	ptraceotlp.RegisterGRPCServer(srv, s)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return s
}

// spanKey identifies a span across exports.
type spanKey [24]byte

// uniqueSpans returns how many distinct spans (trace ID + span ID) the sink
// got, and how many it got more than once.
func (s *sink) uniqueSpans() (unique, duplicates int) {
	seen := map[spanKey]bool{}
	for _, sp := range s.allSpans() {
		var k spanKey
		tid, sid := sp.Span.TraceID(), sp.Span.SpanID()
		copy(k[:16], tid[:])
		copy(k[16:], sid[:])
		if seen[k] {
			duplicates++
			continue
		}
		seen[k] = true
	}
	return len(seen), duplicates
}

// waitStable waits until the sink holds want distinct spans, or until its
// count stops changing for quiet, or timeout; it returns the distinct count.
func (s *sink) waitStable(want int, quiet, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	last, lastChange := -1, time.Now()
	for {
		n, _ := s.uniqueSpans()
		if n >= want {
			return n
		}
		if n != last {
			last, lastChange = n, time.Now()
		}
		if time.Since(lastChange) >= quiet || time.Now().After(deadline) {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// errorTraffic sends meshgen Istio traces that all carry an application
// error, so the gateway's sampler keeps every one of them: every span the
// gateway acknowledged must reach the backend.
type errorTraffic struct {
	gen    *meshgen.Generator
	mu     sync.Mutex
	acked  atomic.Int64 // spans acknowledged by the collector
	failed atomic.Int64 // spans whose export failed (not acknowledged)
}

func newErrorTraffic(seed uint64) *errorTraffic {
	return &errorTraffic{gen: meshgen.New(meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 1, Seed: seed})}
}

// send exports n traces, batch per request, to endpoint and counts them.
func (e *errorTraffic) send(t *testing.T, endpoint string, n, batch int) {
	t.Helper()
	s, err := meshgen.NewOTLPSender(endpoint, "")
	require.NoError(t, err)
	defer s.Close()
	for sent := 0; sent < n; sent += batch {
		if !e.sendOne(t.Context(), s, min(batch, n-sent)) {
			t.Fatalf("export refused after %d traces", sent)
		}
	}
}

func (e *errorTraffic) sendOne(ctx context.Context, s meshgen.Sender, batch int) bool {
	e.mu.Lock()
	tr := e.gen.Next()
	td := tr.Traces
	for range batch - 1 {
		e.gen.Next().Traces.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	}
	e.mu.Unlock()
	sendCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.Send(sendCtx, td); err != nil {
		e.failed.Add(int64(td.SpanCount()))
		return false
	}
	e.acked.Add(int64(td.SpanCount()))
	return true
}

// run sends batch traces every interval to endpoint until ctx ends.
func (e *errorTraffic) run(ctx context.Context, t *testing.T, endpoint string, interval time.Duration, batch int) <-chan struct{} {
	s, err := meshgen.NewOTLPSender(endpoint, "")
	require.NoError(t, err)
	return every(ctx, interval, func() { e.sendOne(context.WithoutCancel(ctx), s, batch) }, func() { _ = s.Close() })
}

// every calls tick at each interval until ctx ends, then stop; the channel
// closes when it has stopped.
func every(ctx context.Context, interval time.Duration, tick, stop func()) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer stop()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				tick()
			}
		}
	}()
	return done
}

// TestDurabilityRestartWithBackendDown: the backend is down while the
// gateway (configs/gateway.yaml, persistent queue) receives and acknowledges
// spans; the gateway is stopped with SIGTERM and started again on the same
// storage directory, then the backend comes up: every acknowledged span
// arrives, including the ones still in the sampler's buffer at SIGTERM. The
// queue's journal holds two segments at SIGTERM, and one once drained.
func TestDurabilityRestartWithBackendDown(t *testing.T) {
	backend := freeAddr(t) // nothing listens here yet
	dir := t.TempDir()
	gw := startShippedGateway(t, backend, dir)
	traffic := newErrorTraffic(91)

	// Part one: decided and in the persistent queue before SIGTERM.
	traffic.send(t, gw.ports.OTLPGRPC, 1000, 10)
	require.Eventually(t, func() bool {
		m := scrapeMetrics(t, gw.ports.Metrics)
		return m["otelcol_processor_mesh_sampling_decisions"] == 1000 && m["otelcol_exporter_queue_size"] > 0
	}, 20*time.Second, 100*time.Millisecond, "1000 traces decided and queued")
	queued := scrapeMetrics(t, gw.ports.Metrics)["otelcol_exporter_queue_size"]
	// Part two: still in the sampler's buffer (settle_time 1s) at SIGTERM;
	// shutdown decides them and hands them to the persistent queue.
	traffic.send(t, gw.ports.OTLPGRPC, 200, 10)
	took := gw.terminate(t)
	acked := int(traffic.acked.Load())
	require.Zero(t, traffic.failed.Load())
	t.Logf("SIGTERM with the backend down: %d spans acknowledged, %.0f bytes queued before the last 200 traces, exit in %s", acked, queued, took.Round(time.Millisecond))
	// The queue's journal outgrew its first segment: the restart replays
	// more than one.
	journal := filepath.Join(dir, "exporter_otlp_grpc__traces.journal")
	segments, size := journalSegments(t, journal)
	t.Logf("journal at SIGTERM: %d segments, %d bytes", segments, size)
	require.GreaterOrEqual(t, segments, 2, "the traffic fills more than one 16 MiB segment")

	gw2 := startShippedGateway(t, backend, dir)
	restarted := time.Now()
	s := startSinkOn(t, backend)
	got := s.waitStable(acked, 10*time.Second, 40*time.Second)
	unique, dups := s.uniqueSpans()
	t.Logf("after restart and backend recovery: %d of %d acknowledged spans arrived (%d duplicates) within %s", got, acked, dups, time.Since(restarted).Round(100*time.Millisecond))
	assert.Equal(t, acked, unique, "every acknowledged span arrives after the restart")
	assert.Zero(t, dups, "nothing was exported before the restart, so nothing twice")
	require.Eventually(t, func() bool {
		return scrapeMetrics(t, gw2.ports.Metrics)["otelcol_exporter_queue_size"] == 0
	}, 10*time.Second, 100*time.Millisecond, "the queue drains")
	// Drained, the journal retires the segments it no longer needs, and
	// the gateway reports its bytes on disk.
	require.Eventually(t, func() bool {
		n, _ := journalSegments(t, journal)
		return n == 1
	}, 10*time.Second, 100*time.Millisecond, "the drained journal keeps one segment")
	_, onDisk := journalSegments(t, journal)
	reported := scrapeMetrics(t, gw2.ports.Metrics)[`otelcol_journal_storage_bytes|journal="exporter_otlp_grpc__traces.journal"`]
	assert.Equal(t, float64(onDisk), reported, "otelcol_journal_storage_bytes")
}

// journalSegments counts the segment files of a journal_storage journal and
// their bytes.
func journalSegments(t *testing.T, dir string) (int, int64) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	n, size := 0, int64(0)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".seg") {
			info, err := e.Info()
			require.NoError(t, err)
			n, size = n+1, size+info.Size()
		}
	}
	return n, size
}

// TestDurabilitySIGKILL measures what a SIGKILL of the gateway loses: spans
// the gateway acknowledged and that never reach the backend. The backend is
// down while traffic flows, so every decided span sits in the sending queue;
// the gateway is killed mid-run, started again on the same directory, and the
// backend comes up. With the shipped persistent queue, only the traces still
// in the sampler's buffer (about settle_time of traffic) are lost; with an
// in-memory queue, everything is.
func TestDurabilitySIGKILL(t *testing.T) {
	const (
		interval = 20 * time.Millisecond // 5 traces per tick: 250 traces/s
		batch    = 5
		run      = 3 * time.Second
	)
	measure := func(t *testing.T, backendUp bool, overrides ...string) (acked, arrived int) {
		backend := freeAddr(t)
		var s *sink
		if backendUp {
			s = startSinkOn(t, backend)
		}
		dir := t.TempDir()
		gw := startShippedGateway(t, backend, dir, overrides...)
		traffic := newErrorTraffic(92)
		ctx, cancel := context.WithCancel(t.Context())
		done := traffic.run(ctx, t, gw.ports.OTLPGRPC, interval, batch)
		time.Sleep(run)
		gw.kill(t)
		cancel()
		<-done
		acked = int(traffic.acked.Load())

		startShippedGateway(t, backend, dir, overrides...)
		if !backendUp {
			s = startSinkOn(t, backend)
		}
		arrived = s.waitStable(acked, 5*time.Second, 30*time.Second)
		return acked, arrived
	}

	var persistentLost, memoryLost int
	t.Run("persistent queue", func(t *testing.T) {
		acked, arrived := measure(t, false)
		persistentLost = acked - arrived
		t.Logf("SIGKILL, backend down, journal_storage queue: %d of %d acknowledged spans lost (%.1f%%)", persistentLost, acked, 100*float64(persistentLost)/float64(acked))
		// The sampler's buffer: at most settle_time (1s) plus one tick of
		// traffic, about 250 traces of 9 spans per second.
		assert.Less(t, persistentLost, acked/2, "the queue survived the SIGKILL")
		assert.Positive(t, arrived)
	})
	t.Run("in-memory queue", func(t *testing.T) {
		acked, arrived := measure(t, false, "exporters::otlp_grpc::sending_queue::storage: null")
		memoryLost = acked - arrived
		t.Logf("SIGKILL, backend down, in-memory queue: %d of %d acknowledged spans lost (%.1f%%)", memoryLost, acked, 100*float64(memoryLost)/float64(acked))
		assert.Equal(t, acked, memoryLost, "an in-memory queue loses everything it held")
	})
	t.Run("persistent queue, backend up", func(t *testing.T) {
		acked, arrived := measure(t, true)
		lost := acked - arrived
		t.Logf("SIGKILL, backend up, journal_storage queue: %d of %d acknowledged spans lost (%.1f%%): the sampler's buffer", lost, acked, 100*float64(lost)/float64(acked))
		assert.Less(t, lost, acked/2)
	})
	if persistentLost > 0 && memoryLost > 0 {
		assert.Less(t, persistentLost, memoryLost)
	}
}
