package main

import (
	"fmt"
	"io"
	"time"
)

func (r *result) cpuPerSpan() float64 {
	return r.cpu.Seconds() * 1e6 / float64(r.sentSpans)
}

func (r *result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[int(p*float64(len(r.latencies)-1))]
}

// keptWhole counts the interesting traces that arrived with all their spans.
func (r *result) keptWhole() int {
	n := 0
	for id, spans := range r.interesting {
		if r.kept[id] >= spans {
			n++
		}
	}
	return n
}

func report(w io.Writer, rs []*result, rate float64, d time.Duration) {
	fmt.Fprintf(w, "\nmeshgen bookinfo load: %.0f traces/s for %s per pipeline, same seed\n\n", rate, d)
	fmt.Fprintf(w, "%-12s %10s %10s %9s %12s %10s %12s %12s %12s %12s %10s\n",
		"pipeline", "spans in", "spans out", "CPU s", "CPU µs/span", "peak RSS", "in spans/s", "out spans/s", "latency p50", "latency p99", "kept (*)")
	byName := map[string]*result{}
	for _, r := range rs {
		byName[r.name] = r
		fmt.Fprintf(w, "%-12s %10d %10d %9.2f %12.2f %8.0fMi %12.0f %12.0f %12s %12s %5d/%-4d\n",
			r.name, r.sentSpans, r.exported, r.cpu.Seconds(), r.cpuPerSpan(), float64(r.peakRSS)/(1<<20),
			float64(r.sentSpans)/r.elapsed.Seconds(), float64(r.exported)/r.elapsed.Seconds(),
			r.percentile(0.5).Round(time.Millisecond), r.percentile(0.99).Round(time.Millisecond),
			r.keptWhole(), len(r.interesting))
	}
	fmt.Fprintln(w, "\n(*) error, proxy-failure, slow and canary traces that reached the sink whole / sent")
	mesh := byName["mesh"]
	if mesh == nil {
		return
	}
	if c := byName["contrib"]; c != nil {
		fmt.Fprintf(w, "mesh / contrib:      CPU per span %.2f×, peak RSS %.2f×\n", mesh.cpuPerSpan()/c.cpuPerSpan(), float64(mesh.peakRSS)/float64(c.peakRSS))
		missing := 0
		for id, spans := range c.interesting {
			if c.kept[id] >= spans && mesh.kept[id] < spans {
				missing++
			}
		}
		fmt.Fprintf(w, "interesting traces contrib kept whole that mesh did not: %d\n", missing)
	}
	if p := byName["passthrough"]; p != nil {
		fmt.Fprintf(w, "mesh / pass-through: CPU per span %.2f×, peak RSS %.2f×\n", mesh.cpuPerSpan()/p.cpuPerSpan(), float64(mesh.peakRSS)/float64(p.peakRSS))
	}
}
