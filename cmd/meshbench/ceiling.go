package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

// flood sends bookinfo traces, each proxy's spans of 50 traces per export,
// from senders concurrent load generators as fast as the collector
// acknowledges them, for duration, and counts what was accepted and what
// was refused (exports not full when the time is up are not sent).
func flood(endpoint string, senders int, duration time.Duration, r *result) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	end := time.Now().Add(duration)
	for i := range senders {
		opts := benchTraffic(2026 + uint64(i))
		sender, err := meshgen.NewOTLPSender(endpoint, meshgen.EnvoyUserAgent(opts))
		if err != nil {
			return err
		}
		g := meshgen.New(opts)
		batches := meshgen.NewProxyBatches(tracesPerExport)
		wg.Go(func() {
			defer sender.Close()
			for time.Now().Before(end) {
				for _, e := range batches.Add(g.Next()) {
					n := e.Traces.SpanCount()
					err := send(sender, e.Traces)
					mu.Lock()
					if err != nil {
						r.refused += n
					} else {
						r.sentSpans += n
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// reportCeiling prints what each pipeline accepted at the highest rate the
// load generator offered, and the target: the gateway accepts at least as
// many spans per second as pass-through, refusing none.
func reportCeiling(w io.Writer, rs []*result, senders int, d time.Duration) {
	fmt.Fprintf(w, "\nceiling: bookinfo traces from %d concurrent exports, as fast as acknowledged, for %s per pipeline\n\n", senders, d)
	fmt.Fprintf(w, "%-12s %14s %14s %10s %12s %10s\n", "pipeline", "accepted/s", "refused spans", "CPU s", "CPU µs/span", "peak RSS")
	byName := map[string]*result{}
	for _, r := range rs {
		byName[r.name] = r
		fmt.Fprintf(w, "%-12s %14.0f %14d %10.2f %12.2f %8.0fMi\n", r.name, float64(r.sentSpans)/d.Seconds(), r.refused,
			r.cpu.Seconds(), r.cpuPerSpan(), float64(r.peakRSS)/(1<<20))
	}
	p, g := byName["passthrough"], byName["gateway"]
	if p == nil || g == nil {
		return
	}
	ratio := float64(g.sentSpans) / float64(p.sentSpans)
	met := "NOT met"
	if ratio >= 1 && g.refused == 0 {
		met = "met"
	}
	fmt.Fprintf(w, "\ntarget (issue 11): gateway accepts ≥ 1.00× pass-through, nothing refused: %.2f×, %d refused  %s\n", ratio, g.refused, met)
}
