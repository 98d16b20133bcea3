package main

import (
	"fmt"
	"io"
	"slices"
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

func (r *result) exportedShare() float64 {
	return 100 * float64(r.exported) / float64(r.sentSpans)
}

// cpuRatio is a's CPU per span over b's. Over several rounds it is the
// median of the rounds' ratios: the pipelines of a round run one after the
// other, so a host that is slower in one round than in another (it moves by
// 10 % and more) slows both sides of that round's ratio.
func cpuRatio(a, b *result) float64 {
	ratios := roundRatios(a, b)
	if len(ratios) == 0 {
		return a.cpuPerSpan() / b.cpuPerSpan()
	}
	slices.Sort(ratios)
	return ratios[len(ratios)/2]
}

// roundRatios is a's CPU per span over b's in each round both ran.
func roundRatios(a, b *result) []float64 {
	if len(a.rounds) < 2 || len(a.rounds) != len(b.rounds) {
		return nil
	}
	ratios := make([]float64, len(a.rounds))
	for i := range a.rounds {
		ratios[i] = a.rounds[i].cpuPerSpan() / b.rounds[i].cpuPerSpan()
	}
	return ratios
}

func rssRatio(a, b *result) float64 { return float64(a.peakRSS) / float64(b.peakRSS) }

// target is one goal of issue 11 and what this run measured.
type target struct {
	pipeline, what, got, want string
	met                       bool
}

func report(w io.Writer, rs []*result, rate float64, d, settle time.Duration) {
	fmt.Fprintf(w, "\nmeshgen bookinfo load: %.0f traces/s for %s per pipeline, same seed\n\n", rate, d)
	fmt.Fprintf(w, "%-20s %10s %10s %9s %12s %10s %12s %12s %12s %12s %10s\n",
		"pipeline", "spans in", "spans out", "CPU s", "CPU µs/span", "peak RSS", "in spans/s", "out spans/s", "latency p50", "latency p99", "kept (*)")
	byName := map[string]*result{}
	for _, r := range rs {
		byName[r.name] = r
		fmt.Fprintf(w, "%-20s %10d %10d %9.2f %12.2f %8.0fMi %12.0f %12.0f %12s %12s %5d/%-4d\n",
			r.name, r.sentSpans, r.exported, r.cpu.Seconds(), r.cpuPerSpan(), float64(r.peakRSS)/(1<<20),
			float64(r.sentSpans)/r.elapsed.Seconds(), float64(r.exported)/r.elapsed.Seconds(),
			r.percentile(0.5).Round(time.Millisecond), r.percentile(0.99).Round(time.Millisecond),
			r.keptWhole(), len(r.interesting))
	}
	fmt.Fprintln(w, "\n(*) error, proxy-failure, slow and canary traces that reached the sink whole / sent")
	fmt.Fprintln(w, "latency: a trace's first span at the sink - the collector's acknowledgement of the export carrying")
	fmt.Fprintln(w, "all its spans (negative when a pipeline forwards before acknowledging, as the sidecar does)")

	pt, c := byName["passthrough"], byName["contrib"]
	ratio := func(r, ref *result, f func(a, b *result) float64) string {
		if ref == nil {
			return "–"
		}
		return fmt.Sprintf("%.2f", f(r, ref))
	}
	fmt.Fprintf(w, "\n%-20s %24s %24s %19s %15s\n", "pipeline", "CPU/span × pass-through", "peak RSS × pass-through", "peak RSS × contrib", "spans exported")
	for _, r := range rs {
		fmt.Fprintf(w, "%-20s %24s %24s %19s %13.1f %%\n", r.name, ratio(r, pt, cpuRatio), ratio(r, pt, rssRatio), ratio(r, c, rssRatio), r.exportedShare())
	}
	if pt != nil && len(pt.rounds) > 1 {
		fmt.Fprintln(w, "\nCPU/span × pass-through in each round (the ratios above are their medians):")
		for _, r := range rs {
			if ratios := roundRatios(r, pt); r != pt && ratios != nil {
				fmt.Fprintf(w, "  %-18s", r.name)
				for _, v := range ratios {
					fmt.Fprintf(w, " %5.2f", v)
				}
				fmt.Fprintln(w)
			}
		}
	}

	var ts []target
	add := func(name, what string, ref *result, f func(a, b *result) float64, limit float64) {
		if r := byName[name]; r != nil && ref != nil {
			// Three decimals: 0.2004 against ≤ 0.20 must not read as "0.20 NOT met".
			v := f(r, ref)
			ts = append(ts, target{name, what, fmt.Sprintf("%.3f", v), fmt.Sprintf("≤ %.2f", limit), v <= limit})
		}
	}
	add("gateway", "CPU/span × pass-through", pt, cpuRatio, 1.0)
	add("gateway", "peak RSS × pass-through", pt, rssRatio, 1.25)
	add("gateway", "peak RSS × contrib", c, rssRatio, 0.2)
	if g := byName["gateway"]; g != nil {
		limit := settle + 100*time.Millisecond
		for _, p := range []struct {
			name string
			q    float64
		}{{"p50", 0.5}, {"p99", 0.99}} {
			v := g.percentile(p.q)
			ts = append(ts, target{"gateway", "decision latency " + p.name, v.Round(time.Millisecond).String(),
				fmt.Sprintf("≤ %s (settle_time %s + 100ms)", limit, settle), len(g.latencies) > 0 && v <= limit})
		}
	}
	add("sidecar", "CPU/span × pass-through", pt, cpuRatio, 1.2)
	add("sidecar", "peak RSS × pass-through", pt, rssRatio, 1.0)
	for _, name := range []string{"passthrough", "sidecar"} {
		if r := byName[name]; r != nil {
			ts = append(ts, target{name, "spans exported", fmt.Sprintf("%.1f %%", r.exportedShare()), "100 %", r.exported == r.sentSpans})
		}
	}
	fmt.Fprintln(w, "\ntargets (issue 11):")
	for _, t := range ts {
		verdict := "NOT met"
		if t.met {
			verdict = "met"
		}
		fmt.Fprintf(w, "  %-12s %-24s %9s   target %-34s %s\n", t.pipeline, t.what, t.got, t.want, verdict)
	}

	if g := byName["gateway"]; g != nil && c != nil {
		missing := 0
		for id, spans := range c.interesting {
			if c.kept[id] >= spans && g.kept[id] < spans {
				missing++
			}
		}
		fmt.Fprintf(w, "\ninteresting traces contrib kept whole that mesh (gateway) did not: %d\n", missing)
	}
}
