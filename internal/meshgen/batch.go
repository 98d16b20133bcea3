package meshgen

import (
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Export is one proxy's export request: its spans of several traces under
// one resource, as a proxy's exporter sends them.
type Export struct {
	Pod    string
	Traces ptrace.Traces
	// IDs are the traces with spans in it.
	IDs []pcommon.TraceID
}

// ProxyBatches groups the spans of generated traces by pod into exports of
// a given number of traces each, one ResourceSpans per export. Meant for
// generators with StablePods (otherwise every trace has pods of its own).
type ProxyBatches struct {
	traces int
	open   map[string]*Export
}

// NewProxyBatches batches tracesPerExport traces per proxy export.
func NewProxyBatches(tracesPerExport int) *ProxyBatches {
	return &ProxyBatches{traces: max(tracesPerExport, 1), open: map[string]*Export{}}
}

// Add moves t's spans into the exports of their pods and returns the
// exports that became full.
func (p *ProxyBatches) Add(t Trace) []Export {
	var full []Export
	rss := t.Traces.ResourceSpans()
	for i, pod := range t.Pods {
		e := p.open[pod]
		if e == nil {
			e = &Export{Pod: pod, Traces: ptrace.NewTraces()}
			p.open[pod] = e
		}
		appendProxySpans(e.Traces, rss.At(i))
		e.IDs = append(e.IDs, t.ID)
		if len(e.IDs) >= p.traces {
			full = append(full, *e)
			delete(p.open, pod)
		}
	}
	return full
}

// Flush returns the exports not full yet, ordered by pod.
func (p *ProxyBatches) Flush() []Export {
	pods := make([]string, 0, len(p.open))
	for pod := range p.open {
		pods = append(pods, pod)
	}
	slices.Sort(pods)
	out := make([]Export, 0, len(pods))
	for _, pod := range pods {
		out = append(out, *p.open[pod])
		delete(p.open, pod)
	}
	return out
}

// appendProxySpans moves the spans of rs into the one ResourceSpans of td:
// the first ResourceSpans of a pod moves whole; later ones, whose resource
// and scopes are the same, add their spans to the scope at the same position.
func appendProxySpans(td ptrace.Traces, rs ptrace.ResourceSpans) {
	if td.ResourceSpans().Len() == 0 {
		rs.MoveTo(td.ResourceSpans().AppendEmpty())
		return
	}
	scopes := td.ResourceSpans().At(0).ScopeSpans()
	for j, ss := range rs.ScopeSpans().All() {
		if j >= scopes.Len() {
			ss.MoveTo(scopes.AppendEmpty())
			continue
		}
		ss.Spans().MoveAndAppendTo(scopes.At(j).Spans())
	}
}
