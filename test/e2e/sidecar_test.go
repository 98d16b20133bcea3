package e2e

import (
	"bytes"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

// snappyRequests counts the requests this test process's gRPC servers (the
// sinks) decoded with snappy: the registered snappy codec is replaced by
// one that counts.
var snappyRequests atomic.Int64

type countingSnappy struct{}

func (countingSnappy) Name() string { return "snappy" }

func (countingSnappy) Compress(w io.Writer) (io.WriteCloser, error) {
	return snappy.NewBufferedWriter(w), nil
}

func (countingSnappy) Decompress(r io.Reader) (io.Reader, error) {
	snappyRequests.Add(1)
	return snappy.NewReader(r), nil
}

func init() { encoding.RegisterCompressor(countingSnappy{}) }

// startShippedSidecar runs configs/sidecar.yaml exporting to gateway.
func startShippedSidecar(t *testing.T, gateway string) *collector {
	t.Helper()
	return launch(t, gateway, func(p ports) ([]string, []string) {
		return []string{"OTELCOL_MESH_GATEWAY_ENDPOINT=" + gateway}, shippedArgs("sidecar.yaml", p)
	})
}

// TestShippedSidecarSendsSnappy: the shipped sidecar compresses its exports
// with snappy (gzip cost it 4 in 10 of its CPU), and the shipped gateway
// takes them: every span sent to the sidecar reaches the backend normalized.
func TestShippedSidecarSendsSnappy(t *testing.T) {
	t.Run("sidecar to sink", func(t *testing.T) {
		s := startSink(t)
		before := snappyRequests.Load()
		sc := startShippedSidecar(t, s.addr)
		n := sendTraces(t, sc.ports.OTLPGRPC, meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.1, Seed: 11}, 20, nil)
		s.waitForSpans(t, n, 30*time.Second)
		assert.Positive(t, snappyRequests.Load()-before, "the sink decoded no snappy request")
	})

	t.Run("sidecar to gateway", func(t *testing.T) {
		s := startSink(t)
		gw := startShippedGateway(t, s.addr, t.TempDir(),
			"processors::mesh::sampling::rules::baseline::probability: 1",
			"processors::mesh::sampling::settle_time: 200ms")
		sc := startShippedSidecar(t, gw.ports.OTLPGRPC)
		n := sendTraces(t, sc.ports.OTLPGRPC, meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.1, Seed: 11}, 20, nil)
		got := s.waitForSpans(t, n, 60*time.Second)
		require.Len(t, got, n, "each span once")
		for _, r := range got {
			mesh, _ := r.Resource.Resource().Attributes().Get("mesh.name")
			assert.Equal(t, "istio", mesh.Str())
			if r.Span.Kind() == ptrace.SpanKindClient {
				_, ok := r.Span.Attributes().Get("mesh.direction")
				assert.True(t, ok, "normalized: %s has mesh.direction", r.Span.Name())
			}
		}
	})
}

// TestShippedSidecarRefusesNestedRequests: an SDK that records a
// self-referencing structure as an attribute nests it without limit; the
// shipped sidecar refuses such a request before decoding, over gRPC and
// HTTP, counts it, and passes ordinary spans on.
func TestShippedSidecarRefusesNestedRequests(t *testing.T) {
	s := startSink(t)
	sc := startShippedSidecar(t, s.addr)
	conn, err := grpc.NewClient(sc.ports.OTLPGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	deep := ptraceotlp.NewExportRequestFromTraces(nested(1000))
	_, err = ptraceotlp.NewGRPCClient(conn).Export(t.Context(), deep)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nests deeper than 64 levels")
	raw, err := deep.MarshalProto()
	require.NoError(t, err)
	resp, err := http.Post("http://"+sc.ports.OTLPHTTP+"/v1/traces", "application/x-protobuf", bytes.NewReader(raw))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, 2.0, scrapeMetrics(t, sc.ports.Metrics)["otelcol_decode_guard_refused_requests"])

	_, err = ptraceotlp.NewGRPCClient(conn).Export(t.Context(), ptraceotlp.NewExportRequestFromTraces(nested(10)))
	require.NoError(t, err)
	s.waitForSpans(t, 1, 30*time.Second)
}
