package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// summarize prints what the collector wrote through the file exporter (one
// OTLP JSON export per line): spans per mesh, proxy and version, canary
// share, and one normalized span.
func summarize(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var (
		u       ptrace.JSONUnmarshaler
		spans   int
		traces  = map[pcommon.TraceID]bool{}
		groups  = map[string]int{}
		canary  int
		proxied int
		errs    int
		sample  ptrace.Traces
		found   bool
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		td, err := u.UnmarshalTraces(sc.Bytes())
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, rs := range td.ResourceSpans().All() {
			res := rs.Resource().Attributes()
			group := fmt.Sprintf("%-8s %-15s proxy %-11s mesh %s", get(res, "mesh.name", "app"), get(res, "mesh.proxy", "-"),
				get(res, "mesh.proxy.version", "-"), meshVersion(res))
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					spans++
					traces[s.TraceID()] = true
					groups[group]++
					if _, ok := res.Get("mesh.proxy"); ok {
						proxied++
						if v, ok := s.Attributes().Get("mesh.canary"); ok && v.Bool() {
							canary++
						}
					}
					if s.Status().Code() == ptrace.StatusCodeError {
						errs++
					}
					if !found && s.Kind() == ptrace.SpanKindClient && get(s.Attributes(), "mesh.destination.subset", "") != "" {
						sample, found = ptrace.NewTraces(), true
						nrs := sample.ResourceSpans().AppendEmpty()
						rs.Resource().CopyTo(nrs.Resource())
						s.CopyTo(nrs.ScopeSpans().AppendEmpty().Spans().AppendEmpty())
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d spans in %d traces, %d with Error status\n\nspans by mesh / proxy / version:\n", spans, len(traces), errs)
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %6d  %s\n", groups[k], k)
	}
	if proxied > 0 {
		fmt.Fprintf(w, "\ncanary share: %.1f%% of %d proxy spans\n", 100*float64(canary)/float64(proxied), proxied)
	}
	if found {
		rs := sample.ResourceSpans().At(0)
		s := rs.ScopeSpans().At(0).Spans().At(0)
		fmt.Fprintf(w, "\nsample normalized span %q (%s, status %s)\n  resource:\n%s  attributes:\n%s",
			s.Name(), s.Kind(), s.Status().Code(), indent(rs.Resource().Attributes()), indent(s.Attributes()))
	}
	return nil
}

func get(m pcommon.Map, key, def string) string {
	if v, ok := m.Get(key); ok {
		return v.AsString()
	}
	return def
}

func indent(m pcommon.Map) string {
	var b strings.Builder
	keys := make([]string, 0, m.Len())
	for k := range m.All() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, _ := m.Get(k)
		fmt.Fprintf(&b, "    %s = %s\n", k, v.AsString())
	}
	return b.String()
}

// meshVersion is the exact mesh version, ">=" the lower bound, or "-".
func meshVersion(res pcommon.Map) string {
	if v := get(res, "mesh.version", ""); v != "" {
		return v
	}
	if v := get(res, "mesh.version.min", ""); v != "" {
		return ">=" + v
	}
	return "-"
}
