package decodeguardextension // import "github.com/otelcol-mesh/otelcol-mesh/extension/decodeguardextension"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/extensionmiddleware"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"

	"github.com/otelcol-mesh/otelcol-mesh/extension/decodeguardextension/internal/metadata"
)

// guard is the extension: a gRPC codec and an HTTP handler that check a
// request's nesting before the receiver decodes it.
type guard struct {
	maxDepth int
	tel      *metadata.TelemetryBuilder
}

var (
	_ extensionmiddleware.GRPCServer = (*guard)(nil)
	_ extensionmiddleware.HTTPServer = (*guard)(nil)

	viaGRPC = metric.WithAttributeSet(attribute.NewSet(attribute.String("transport", "grpc")))
	viaHTTP = metric.WithAttributeSet(attribute.NewSet(attribute.String("transport", "http")))
)

func (*guard) Start(context.Context, component.Host) error { return nil }

func (g *guard) Shutdown(context.Context) error {
	g.tel.Shutdown()
	return nil
}

func (g *guard) tooDeep() error {
	return fmt.Errorf("request nests deeper than %d levels (decode_guard max_depth): refused before decoding", g.maxDepth)
}

// GetGRPCServerOptions replaces the server's codec with one that checks
// the nesting, then decodes as the collector's own codec does.
func (g *guard) GetGRPCServerOptions(context.Context) ([]grpc.ServerOption, error) {
	next := encoding.GetCodecV2("proto")
	if next == nil {
		return nil, errors.New("no proto codec registered")
	}
	return []grpc.ServerOption{grpc.ForceServerCodecV2(&codec{guard: g, next: next})}, nil
}

// codec checks the nesting of a request's bytes, then decodes them. OTLP
// messages decode from the same bytes (their UnmarshalProto, as the
// collector's codec does); anything else goes to the codec it replaces.
type codec struct {
	guard *guard
	next  encoding.CodecV2
}

type protoUnmarshaler interface{ UnmarshalProto([]byte) error }

func (c *codec) Name() string { return c.next.Name() }

func (c *codec) Marshal(v any) (mem.BufferSlice, error) { return c.next.Marshal(v) }

func (c *codec) Unmarshal(data mem.BufferSlice, v any) error {
	buf := data.MaterializeToBuffer(&requestBuffers)
	defer buf.Free()
	if protoTooDeep(buf.ReadOnlyData(), c.guard.maxDepth) {
		c.guard.tel.DecodeGuardRefusedRequests.Add(context.Background(), 1, viaGRPC)
		return c.guard.tooDeep()
	}
	if m, ok := v.(protoUnmarshaler); ok {
		return m.UnmarshalProto(buf.ReadOnlyData())
	}
	return c.next.Unmarshal(data, v)
}

// GetHTTPHandler checks OTLP/HTTP bodies (protobuf or JSON), after the
// server's body-size limit and decompression.
func (g *guard) GetHTTPHandler(context.Context) (extensionmiddleware.WrapHTTPHandlerFunc, error) {
	return func(_ context.Context, next http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The media type as the OTLP receiver reads it: any case, with
			// parameters and spaces.
			mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			isProto, isJSON := mt == "application/x-protobuf", mt == "application/json"
			if r.Body == nil || !(isProto || isJSON) {
				next.ServeHTTP(w, r)
				return
			}
			body, err := io.ReadAll(r.Body)
			_ = r.Body.Close()
			// A read error (body too large) is the receiver's to report:
			// it reads what was read, then the error.
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
			if err == nil {
				if refusal := g.checkBody(body, isJSON); refusal != nil {
					g.tel.DecodeGuardRefusedRequests.Add(r.Context(), 1, viaHTTP)
					http.Error(w, refusal.Error(), http.StatusBadRequest)
					return
				}
			}
			next.ServeHTTP(w, r)
		}), nil
	}, nil
}

// checkBody returns why an OTLP/HTTP body is refused, or nil.
func (g *guard) checkBody(body []byte, isJSON bool) error {
	if !isJSON {
		if protoTooDeep(body, g.maxDepth) {
			return g.tooDeep()
		}
		return nil
	}
	if jsonTooDeep(body, g.maxDepth) {
		return g.tooDeep()
	}
	// pdata's JSON decoder reads on past syntax errors (jsoniter records
	// them, and the generated loops look only at the end) and then takes
	// closing brackets for colons: what it nests is no longer what the
	// brackets say. So the bracket count holds only for valid JSON, and
	// invalid JSON is refused; the receiver refuses it too, but after
	// decoding it. What follows the request's object the decoder never
	// reads (and accepts), so only that object must be valid.
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(new(json.RawMessage)); err != nil && !errors.Is(err, io.EOF) {
		return errors.New("request body is not valid JSON: refused before decoding (decode_guard)")
	}
	return nil
}

// errReader returns err, or EOF when err is nil.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	return 0, io.EOF
}
