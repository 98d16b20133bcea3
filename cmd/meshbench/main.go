// Command meshbench runs the same meshgen load (same rate, same traces)
// through three pipelines of the built otelcol-mesh binary, one after the
// other, into the same in-process OTLP sink, and prints per pipeline the
// collector's CPU seconds per span, peak RSS, accepted and exported spans per
// second and decision latency, then the ratios mesh/contrib and
// mesh/pass-through. `make bench-pipelines` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshbench"
	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

func main() {
	binary := flag.String("binary", "_build/otelcol-mesh", "the otelcol-mesh binary")
	rate := flag.Float64("rate", 2000, "bookinfo traces per second (about 9 spans each)")
	duration := flag.Duration("duration", 20*time.Second, "load duration per pipeline")
	only := flag.String("pipelines", "passthrough,contrib,mesh", "pipelines to run, in order")
	flag.Parse()
	var results []*result
	for _, name := range strings.Split(*only, ",") {
		p, ok := pipeline(name)
		if !ok {
			fmt.Fprintf(os.Stderr, "meshbench: unknown pipeline %q\n", name)
			os.Exit(2)
		}
		r, err := run(*binary, p, *rate, *duration)
		if err != nil {
			fmt.Fprintf(os.Stderr, "meshbench: %s: %v\n", name, err)
			os.Exit(1)
		}
		results = append(results, r)
	}
	report(os.Stdout, results, *rate, *duration)
}

func pipeline(name string) (meshbench.Pipeline, bool) {
	for _, p := range meshbench.Pipelines {
		if p.Name == name {
			return p, true
		}
	}
	return meshbench.Pipeline{}, false
}

// result is what one pipeline did with the load.
type result struct {
	name                 string
	sentSpans, sentTrace int
	exported             int
	cpu                  time.Duration
	peakRSS              int64 // bytes
	elapsed              time.Duration
	latencies            []time.Duration // send of a trace → its first span at the sink
	kept                 map[pcommon.TraceID]int
	interesting          map[pcommon.TraceID]int // error/failure/slow/canary trace → span count
}

func run(binary string, p meshbench.Pipeline, rate float64, duration time.Duration) (*result, error) {
	s, err := startSink()
	if err != nil {
		return nil, err
	}
	defer s.stop()
	dir, err := os.MkdirTemp("", "meshbench")
	if err != nil {
		return nil, err
	}
	defer func() {
		if os.Getenv("MESHBENCH_KEEP") == "" {
			os.RemoveAll(dir)
		}
	}()
	otlp, health := freeAddr(), freeAddr()
	cfg := collectorConfig(p, otlp, health, s.addr)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "collector.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(binary, "--config", path)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	if err := waitHealthy(health, 30*time.Second); err != nil {
		out, _ := os.ReadFile(logf.Name())
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	cpu0, err := cpuTime(cmd.Process.Pid)
	if err != nil {
		return nil, err
	}

	r := &result{name: p.Name, interesting: map[pcommon.TraceID]int{}}
	sentAt, err := sendLoad(otlp, rate, duration, r)
	if err != nil {
		return nil, err
	}
	// Drain: until the collector has worked off its backlog (its CPU is idle)
	// and nothing arrived for longer than the slowest decision wait.
	cpu1, err := drain(s, cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	r.cpu = cpu1 - cpu0
	r.peakRSS, _ = peakRSS(cmd.Process.Pid)
	r.elapsed = duration
	r.exported, r.kept = s.result()
	for id, at := range s.firstArrival() {
		if sent, ok := sentAt[id]; ok {
			r.latencies = append(r.latencies, at.Sub(sent))
		}
	}
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	return r, nil
}

// sendLoad sends bookinfo traces at rate for duration, 10 traces per export
// (as a proxy batches), and returns when each trace was sent.
func sendLoad(endpoint string, rate float64, duration time.Duration, r *result) (map[pcommon.TraceID]time.Time, error) {
	opts := meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.02, FlagRate: 0.01, SlowRate: 0.01, CanaryShare: 0.05, Seed: 2026}
	g := meshgen.New(opts)
	sender, err := meshgen.NewOTLPSender(endpoint, meshgen.EnvoyUserAgent(opts))
	if err != nil {
		return nil, err
	}
	defer sender.Close()
	const batch = 10
	sentAt := map[pcommon.TraceID]time.Time{}
	tick := time.NewTicker(time.Duration(float64(batch) * float64(time.Second) / rate))
	defer tick.Stop()
	end := time.Now().Add(duration)
	for time.Now().Before(end) {
		<-tick.C
		var traces []meshgen.Trace
		for range batch {
			t := g.Next()
			if t.Error || t.Failure || t.Slow || t.Canary {
				r.interesting[t.ID] = t.Traces.SpanCount()
			}
			traces = append(traces, t)
		}
		td := traces[0].Traces
		for _, t := range traces[1:] {
			t.Traces.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
		}
		now := time.Now()
		n := td.SpanCount()
		for _, t := range traces {
			sentAt[t.ID] = now
			r.sentTrace++
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := sender.Send(ctx, td)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("export refused: %w", err)
		}
		r.sentSpans += n
	}
	return sentAt, nil
}

func collectorConfig(p meshbench.Pipeline, otlp, health, sink string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: %s\n        include_metadata: true\nprocessors:\n", otlp)
	ids := []string{}
	for _, proc := range p.Processors {
		fmt.Fprintf(&b, "  %s:\n%s", proc.ID, indent(proc.Config, "    "))
		ids = append(ids, proc.ID)
	}
	b.WriteString("  batch:\n    send_batch_size: 8192\n    send_batch_max_size: 8192\n    timeout: 200ms\n")
	ids = append(ids, "batch")
	fmt.Fprintf(&b, "exporters:\n  otlp_grpc:\n    endpoint: %s\n    tls:\n      insecure: true\n", sink)
	fmt.Fprintf(&b, "extensions:\n  health_check:\n    endpoint: %s\n", health)
	fmt.Fprintf(&b, "service:\n  extensions: [health_check]\n  telemetry:\n    metrics:\n      level: none\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [%s]\n      exporters: [otlp_grpc]\n", strings.Join(ids, ", "))
	return b.String()
}

func indent(s, prefix string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.Trim(s, "\n"), "\n") {
		b.WriteString(prefix + line + "\n")
	}
	return b.String()
}

// drain waits until the collector's CPU time grows by less than 20 ms per
// second for 3 s in a row and the sink got nothing for 7 s (at most 3 min),
// and returns the collector's CPU time then.
func drain(s *sink, pid int) (time.Duration, error) {
	deadline := time.Now().Add(3 * time.Minute)
	prev, err := cpuTime(pid)
	if err != nil {
		return 0, err
	}
	quiet := 0
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		cur, err := cpuTime(pid)
		if err != nil {
			return 0, err
		}
		if cur-prev < 20*time.Millisecond {
			quiet++
		} else {
			quiet = 0
		}
		prev = cur
		if quiet >= 3 && s.idleFor() > 7*time.Second {
			return cur, nil
		}
	}
	return prev, nil
}
