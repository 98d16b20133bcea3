package decodeguardextension

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensionmiddleware"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"

	"github.com/otelcol-mesh/otelcol-mesh/extension/decodeguardextension/internal/metadatatest"
)

func newGuard(t *testing.T) (*guard, *componenttest.Telemetry) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	ext, err := NewFactory().Create(t.Context(), metadatatest.NewSettings(tel), createDefaultConfig())
	require.NoError(t, err)
	require.NoError(t, ext.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { _ = ext.Shutdown(context.Background()) })
	return ext.(*guard), tel
}

func TestGRPCCodec(t *testing.T) {
	g, tel := newGuard(t)
	opts, err := g.GetGRPCServerOptions(t.Context())
	require.NoError(t, err)
	require.Len(t, opts, 1)
	c := &codec{guard: g, next: encoding.GetCodecV2("proto")}

	shallow, err := request(3).MarshalProto()
	require.NoError(t, err)
	got := ptraceotlp.NewExportRequest()
	require.NoError(t, c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(shallow)}, &got))
	assert.Equal(t, 1, got.Traces().SpanCount(), "a shallow request decodes")

	deep, err := request(30).MarshalProto()
	require.NoError(t, err)
	err = c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(deep)}, &got)
	require.ErrorContains(t, err, "nests deeper than 64 levels")
	metadatatest.AssertEqualDecodeGuardRefusedRequests(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("transport", "grpc")), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}

func TestHTTPHandler(t *testing.T) {
	g, tel := newGuard(t)
	var wrap extensionmiddleware.WrapHTTPHandlerFunc
	wrap, err := g.GetHTTPHandler(t.Context())
	require.NoError(t, err)
	var received []byte
	h, err := wrap(t.Context(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	require.NoError(t, err)
	post := func(ct string, body []byte) int {
		received = nil
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, tc := range []struct {
		ct     string
		levels int
		want   int
	}{
		{"application/x-protobuf", 3, http.StatusOK},
		{"application/x-protobuf", 30, http.StatusBadRequest},
		{"application/json", 3, http.StatusOK},
		{"application/json", 30, http.StatusBadRequest},
		// Media types as the receiver reads them (mime.ParseMediaType):
		// any case, parameters, spaces.
		{"Application/X-Protobuf", 30, http.StatusBadRequest},
		{"application/x-protobuf; charset=utf-8", 30, http.StatusBadRequest},
		{"APPLICATION/JSON ; charset=utf-8", 30, http.StatusBadRequest},
		{"application/x-protobufs", 30, http.StatusOK},     // the receiver refuses it (415)
		{"application/json", -5000, http.StatusBadRequest}, // desyncedJSON: not valid JSON
		// After the request's object, the decoder reads nothing (and
		// accepts the request): whatever comes there passes.
		{"application/json", -1, http.StatusOK},
	} {
		var body []byte
		if tc.levels == -1 {
			body, err = request(3).MarshalJSON()
			require.NoError(t, err)
			body = append(body, "}]] trailing"...)
		} else if tc.levels < 0 {
			body = desyncedJSON(-tc.levels)
		} else if strings.Contains(strings.ToLower(tc.ct), "json") {
			body, err = request(tc.levels).MarshalJSON()
		} else {
			body, err = request(tc.levels).MarshalProto()
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, post(tc.ct, body), "%s, %d levels", tc.ct, tc.levels)
		if tc.want == http.StatusOK {
			assert.Equal(t, body, received, "the receiver reads the whole body")
		} else {
			assert.Nil(t, received, "never reaches the receiver")
		}
	}
	metadatatest.AssertEqualDecodeGuardRefusedRequests(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("transport", "http")), Value: 6},
	}, metricdatatest.IgnoreTimestamp())
}
