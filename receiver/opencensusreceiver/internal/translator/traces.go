// Package translator converts OpenCensus agent protocol trace data (Node,
// Resource and Span messages of github.com/census-instrumentation/opencensus-proto)
// to OpenTelemetry pdata. Its functions are pure: they read their arguments,
// never modify them, and return either the converted data or an error that says
// which field of which span is malformed.
package translator // import "github.com/otelcol-mesh/otelcol-mesh/receiver/opencensusreceiver/internal/translator"

import (
	"fmt"
	"slices"
	"strings"

	commonpb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/common/v1"
	resourcepb "github.com/census-instrumentation/opencensus-proto/gen-go/resource/v1"
	tracepb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Traces converts the spans of one ExportTraceServiceRequest to pdata.
//
// node and res are the Node and Resource in effect for the message: the ones
// it carries, or the last ones sent earlier on the stream. Spans without a
// resource of their own share one ResourceSpans built from node and res; a span
// with its own resource replaces res (not node) with it, and spans with equal
// own resources share a ResourceSpans. Span order is kept within each
// ResourceSpans.
//
// Any malformed span (missing or wrong-length ids, missing or out-of-range
// timestamps) or a malformed node start timestamp rejects the whole message:
// the error names the field, e.g. "spans[2]: span_id must be 8 bytes, got 3".
func Traces(node *commonpb.Node, res *resourcepb.Resource, spans []*tracepb.Span) (ptrace.Traces, error) {
	td := ptrace.NewTraces()
	if len(spans) == 0 {
		return td, nil
	}
	if err := checkNode(node); err != nil {
		return ptrace.Traces{}, err
	}

	// The common case: no span carries its own resource.
	var shared ptrace.SpanSlice
	var own map[string]ptrace.SpanSlice
	for i, s := range spans {
		if s == nil {
			return ptrace.Traces{}, fmt.Errorf("spans[%d]: missing", i)
		}
		var dst ptrace.SpanSlice
		if s.GetResource() == nil {
			if shared == (ptrace.SpanSlice{}) {
				shared = newResourceSpans(td, node, res, len(spans))
			}
			dst = shared
		} else {
			key := resourceKey(s.GetResource())
			var ok bool
			if dst, ok = own[key]; !ok {
				if own == nil {
					own = map[string]ptrace.SpanSlice{}
				}
				dst = newResourceSpans(td, node, s.GetResource(), 1)
				own[key] = dst
			}
		}
		if err := convertSpan(s, dst.AppendEmpty()); err != nil {
			return ptrace.Traces{}, fmt.Errorf("spans[%d]: %w", i, err)
		}
	}
	return td, nil
}

// newResourceSpans appends a ResourceSpans with the resource of node and res
// and one (unnamed) scope, and returns the scope's span slice.
func newResourceSpans(td ptrace.Traces, node *commonpb.Node, res *resourcepb.Resource, capacity int) ptrace.SpanSlice {
	rs := td.ResourceSpans().AppendEmpty()
	putResource(rs.Resource().Attributes(), node, res)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	spans.EnsureCapacity(capacity)
	return spans
}

// resourceKey identifies a resource by content, so that spans with equal own
// resources share one ResourceSpans.
func resourceKey(r *resourcepb.Resource) string {
	keys := make([]string, 0, len(r.GetLabels()))
	for k := range r.GetLabels() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%q", r.GetType())
	for _, k := range keys {
		fmt.Fprintf(&b, ",%q=%q", k, r.GetLabels()[k])
	}
	return b.String()
}
