package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestSummarize(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("mesh.name", "istio")
	rs.Resource().Attributes().PutStr("mesh.proxy", "envoy")
	rs.Resource().Attributes().PutStr("mesh.proxy.version", "1.33.1-dev")
	rs.Resource().Attributes().PutStr("mesh.version", "1.25.0")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i, canary := range []bool{true, false, false, false} {
		s := spans.AppendEmpty()
		s.SetTraceID([16]byte{byte(i % 2), 1})
		s.SetName("GET")
		s.SetKind(ptrace.SpanKindClient)
		s.Attributes().PutBool("mesh.canary", canary)
		s.Attributes().PutStr("mesh.destination.subset", "v2")
	}
	spans.At(1).Status().SetCode(ptrace.StatusCodeError)
	app := td.ResourceSpans().AppendEmpty()
	app.ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("app")

	var m ptrace.JSONMarshaler
	line, err := m.MarshalTraces(td)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "traces.json")
	require.NoError(t, os.WriteFile(path, append(append(line, '\n'), append(line, '\n')...), 0o600))

	var out bytes.Buffer
	require.NoError(t, summarize(&out, path))
	got := out.String()
	assert.Contains(t, got, "10 spans in 3 traces, 2 with Error status")
	assert.Regexp(t, `\s8\s+istio\s+envoy\s+proxy 1\.33\.1-dev\s+mesh 1\.25\.0`, got)
	assert.Regexp(t, `\s2\s+app\s`, got)
	assert.Contains(t, got, "canary share: 25.0% of 8 proxy spans")
	assert.Contains(t, got, "mesh.destination.subset = v2")
}
