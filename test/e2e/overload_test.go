package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// procStatusKiB reads a VmRSS / VmHWM style line of /proc/<pid>/status.
func procStatusKiB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// nested returns one span whose attribute "deep" nests maps depth levels deep.
func nested(depth int) ptrace.Traces {
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{1, 2, 3})
	sp.SetSpanID(pcommon.SpanID{4, 5, 6})
	sp.SetName("deep")
	m := sp.Attributes()
	for range depth {
		m = m.PutEmptyMap("a")
	}
	return td
}

// TestNestedAttributesRefused: ten concurrent OTLP/gRPC requests just under
// the 4 MiB limit whose one attribute nests maps 240 000 deep, and the same
// over OTLP/HTTP. Decoded, they took the gateway's RSS from 80 MiB to
// 1.5 GiB (37 MiB sent); the decode_guard extension in configs/gateway.yaml
// refuses them before decoding, counts them, and ordinary requests pass.
func TestNestedAttributesRefused(t *testing.T) {
	s := startSink(t)
	c := startGateway(t, s.addr)
	req := ptraceotlp.NewExportRequestFromTraces(nested(240_000))
	raw, err := req.MarshalProto()
	require.NoError(t, err)
	conn, err := grpc.NewClient(c.ports.OTLPGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	client := ptraceotlp.NewGRPCClient(conn)
	pid := c.cmd.Process.Pid
	before := procStatusKiB(t, pid, "VmHWM")
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = client.Export(t.Context(), req)
		}()
	}
	wg.Wait()
	post := func(contentType string, b []byte) (int, string) {
		resp, err := http.Post("http://"+c.ports.OTLPHTTP+"/v1/traces", contentType, bytes.NewReader(b))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	status, body := post("application/x-protobuf", raw)
	// The same request behind fields the decoder skips and the guard once
	// stopped at: an unknown group (over gRPC, the bytes sent as they are)
	// and an unknown ten-byte varint (over HTTP, with a media type in
	// capitals, which the receiver accepts and the guard once did not scan).
	grouped := append([]byte{15<<3 | 3, 15<<3 | 4}, raw...)
	groupedErr := conn.Invoke(t.Context(), "/opentelemetry.proto.collector.trace.v1.TraceService/Export", grouped, new([]byte), grpc.ForceCodec(rawCodec{}))
	longStatus, longBody := post("Application/X-Protobuf", append([]byte{15 << 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, raw...))
	// OTLP/JSON that pdata's decoder reads on past its syntax errors,
	// nesting maps 60 000 deep behind brackets that never nest.
	jsonStatus, jsonBody := post("application/json", desyncedJSON(60_000))
	peak := procStatusKiB(t, pid, "VmHWM")
	t.Logf("peak RSS %d MiB before, %d MiB after %d MiB of nested requests", before>>10, peak>>10, 13*len(raw)>>20)

	for _, err := range append(errs, groupedErr) {
		require.Error(t, err)
		assert.Contains(t, err.Error(), "nests deeper than 64 levels")
	}
	assert.Equal(t, []int{http.StatusBadRequest, http.StatusBadRequest, http.StatusBadRequest}, []int{status, longStatus, jsonStatus})
	assert.Contains(t, body, "nests deeper than 64 levels")
	assert.Contains(t, longBody, "nests deeper than 64 levels")
	assert.Contains(t, jsonBody, "not valid JSON")
	assert.Less(t, peak-before, int64(256<<10), "the requests cost less than 256 MiB (decoded: about 1.5 GiB)")
	m := scrapeMetrics(t, c.ports.Metrics)
	assert.Equal(t, 14.0, m["otelcol_decode_guard_refused_requests"], "every refusal counted")

	// Ordinary traffic still passes, nested attributes within the limit included.
	ok := nested(10)
	_, err = client.Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(ok))
	require.NoError(t, err)
	assert.Equal(t, 0.0, m["otelcol_receiver_refused_spans"])
}

// desyncedJSON is an OTLP/JSON body, not valid JSON, whose span attribute
// nests maps levels deep for pdata's JSON decoder while its brackets never
// nest deeper than 5: a ']' where each ':' should be and a '}' after each
// '['. The decoder records its first error and reads on.
func desyncedJSON(levels int) []byte {
	b := []byte(`{"resourceSpans"][}{""scopeSpans"][}{""spans"][}{""attributes"][}`)
	for range levels {
		b = append(b, `{""key"]"k","value"]{""kvlistValue"]{""values"][}`...)
	}
	return b
}
