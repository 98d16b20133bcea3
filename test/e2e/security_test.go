package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/common/v1"
	agenttracepb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/trace/v1"
	tracepb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	"gopkg.in/yaml.v3"
)

// testPKI is a CA made for one test: a server certificate for 127.0.0.1, a
// client certificate it signed, and a client certificate of a second CA the
// collector does not trust. The PEM files are in dir.
type testPKI struct {
	caFile, certFile, keyFile     string
	clientCertFile, clientKeyFile string // the client certificate, for a collector
	roots                         *x509.CertPool
	client, untrusted             tls.Certificate
	keysPEM                       [][]byte // every private key, to look for in the logs
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	var p testPKI
	ca, caKey, caPEM := newTestCA(t, "otelcol-mesh e2e CA")
	p.roots = x509.NewCertPool()
	p.roots.AddCert(ca)
	p.caFile = writeSecretFile(t, dir, "ca.crt", caPEM)

	serverPEM, serverKeyPEM := issueCert(t, ca, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "otelcol-mesh-gateway"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	p.certFile = writeSecretFile(t, dir, "tls.crt", serverPEM)
	p.keyFile = writeSecretFile(t, dir, "tls.key", serverKeyPEM)

	clientPEM, clientKeyPEM := issueCert(t, ca, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "otelcol-mesh-agent"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.clientCertFile = writeSecretFile(t, dir, "client.crt", clientPEM)
	p.clientKeyFile = writeSecretFile(t, dir, "client.key", clientKeyPEM)
	var err error
	p.client, err = tls.X509KeyPair(clientPEM, clientKeyPEM)
	require.NoError(t, err)

	rogue, rogueKey, _ := newTestCA(t, "untrusted CA")
	roguePEM, rogueKeyPEM := issueCert(t, rogue, rogueKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "otelcol-mesh-agent"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.untrusted, err = tls.X509KeyPair(roguePEM, rogueKeyPEM)
	require.NoError(t, err)
	p.keysPEM = [][]byte{serverKeyPEM, clientKeyPEM, rogueKeyPEM}
	return p
}

func newTestCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          certSerial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// issue signs tmpl with the CA and returns the certificate and its new key (PEM).
func issueCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl.SerialNumber = certSerial(t)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func certSerial(t *testing.T) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	require.NoError(t, err)
	return n
}

func writeSecretFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

func secureToken(t *testing.T) string {
	b := make([]byte, 24)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// startSecureGateway runs the shipped configs/gateway-secure.yaml with its
// listeners on free loopback ports, the certificates and token file of the
// test, debug logs, and every trace kept (baseline probability 1).
func startSecureGateway(t *testing.T, sink string, p testPKI, tokenFile string) *collector {
	t.Helper()
	storage := t.TempDir() // the durable sending queue, when the config has one
	return launch(t, sink, func(ps ports) ([]string, []string) {
		args := []string{"--config", repoPath("configs", "gateway-secure.yaml")}
		for _, o := range []string{
			"receivers::otlp::protocols::grpc::endpoint: " + ps.OTLPGRPC,
			"receivers::otlp::protocols::http::endpoint: " + ps.OTLPHTTP,
			"receivers::zipkin::endpoint: " + ps.Zipkin,
			"receivers::opencensus::endpoint: " + ps.OpenCensus,
			"extensions::health_check::endpoint: " + ps.Health,
			"service::telemetry::metrics::readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: " + fmt.Sprint(ps.MetricsPort) + "}}}}]",
			"service::telemetry::logs::level: debug",
			"processors::mesh::sampling::rules::baseline::probability: 1",
		} {
			args = append(args, "--config", "yaml:"+o)
		}
		return []string{
			"OTELCOL_MESH_BACKEND_ENDPOINT=" + sink,
			"OTELCOL_MESH_BACKEND_INSECURE=true",
			"OTELCOL_MESH_TLS_CERT_FILE=" + p.certFile,
			"OTELCOL_MESH_TLS_KEY_FILE=" + p.keyFile,
			"OTELCOL_MESH_TLS_CLIENT_CA_FILE=" + p.caFile,
			"OTELCOL_MESH_AUTH_TOKEN_FILE=" + tokenFile,
			"OTELCOL_MESH_STORAGE_DIR=" + storage,
		}, args
	})
}

// secureSpan is an application span that carries the token the way an SDK
// capturing request headers and URLs would: it must arrive redacted.
func secureSpan(name, token string) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "secure-e2e")
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	var tid [16]byte
	var sid [8]byte
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(sid[:])
	span.SetTraceID(pcommon.TraceID(tid))
	span.SetSpanID(pcommon.SpanID(sid))
	span.SetName(name)
	span.SetKind(ptrace.SpanKindServer)
	now := time.Now()
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-10 * time.Millisecond)))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	span.Attributes().PutStr("http.request.method", "POST")
	span.Attributes().PutEmptySlice("http.request.header.authorization").AppendEmpty().SetStr("Bearer " + token)
	span.Attributes().PutStr("url.full", "https://shop.example.com/cart?access_token="+token+"&item=7")
	return td
}

// credentials of one client attempt.
type clientCreds struct {
	name    string
	tls     *tls.Config // nil: plaintext
	header  string      // Authorization value; "" for none
	allowed bool
	// code and httpStatus: the refusal expected once TLS passed (0: the TLS
	// handshake itself must fail).
	code       codes.Code
	httpStatus int
}

// acceptedGRPC checks a gRPC export's outcome against what these credentials
// expect, and reports whether the export was accepted.
func (c clientCreds) acceptedGRPC(t *testing.T, err error) bool {
	t.Helper()
	switch {
	case c.allowed:
		require.NoError(t, err)
		return true
	case c.code != 0:
		assert.Equal(t, c.code, status.Code(err), "%v", err)
	default: // refused by TLS: no RPC reached the receiver
		require.Error(t, err)
		assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	}
	return false
}

// acceptedHTTP checks an HTTP export's outcome (okCode when accepted)
// against what these credentials expect, and reports whether it was accepted.
func (c clientCreds) acceptedHTTP(t *testing.T, code int, err error, okCode int) bool {
	t.Helper()
	switch {
	case c.allowed:
		require.NoError(t, err)
		assert.Equal(t, okCode, code)
		return true
	case c.httpStatus != 0:
		require.NoError(t, err)
		assert.Equal(t, c.httpStatus, code)
	case c.tls == nil: // Go's TLS server answers plain HTTP with 400
		assert.True(t, err != nil || code == http.StatusBadRequest, "plaintext request got %d %v", code, err)
	default:
		assert.Error(t, err, "TLS handshake must fail, got HTTP %d", code)
	}
	return false
}

// dial connects with the attempt's TLS settings and returns the context
// that carries its Authorization header.
func (c clientCreds) dial(ctx context.Context, addr string) (*grpc.ClientConn, context.Context, error) {
	creds := insecure.NewCredentials()
	if c.tls != nil {
		creds = credentials.NewTLS(c.tls)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, ctx, err
	}
	if c.header != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", c.header)
	}
	return conn, ctx, nil
}

func exportGRPC(ctx context.Context, addr string, c clientCreds, td ptrace.Traces) error {
	conn, ctx, err := c.dial(ctx, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
	return err
}

// exportOC sends one span on an OpenCensus agent stream, the way a Linkerd
// ≤2.17 proxy or an ocagent exporter does, and waits for the server to end
// the stream: nil when it took the span.
func exportOC(ctx context.Context, addr string, c clientCreds, name, token string) error {
	conn, ctx, err := c.dial(ctx, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stream, err := agenttracepb.NewTraceServiceClient(conn).Export(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	err = stream.Send(&agenttracepb.ExportTraceServiceRequest{
		Node: &commonpb.Node{ServiceInfo: &commonpb.ServiceInfo{Name: "secure-e2e"}},
		Spans: []*tracepb.Span{{
			TraceId:   secureRandomBytes(16),
			SpanId:    secureRandomBytes(8),
			Name:      &tracepb.TruncatableString{Value: name},
			Kind:      tracepb.Span_SERVER,
			StartTime: timestamppb.New(now.Add(-time.Millisecond)),
			EndTime:   timestamppb.New(now),
			Attributes: &tracepb.Span_Attributes{AttributeMap: map[string]*tracepb.AttributeValue{
				"http.url": {Value: &tracepb.AttributeValue_StringValue{StringValue: &tracepb.TruncatableString{Value: "https://shop.example.com/?token=" + token}}},
			}},
		}},
	})
	if err != nil && !errors.Is(err, io.EOF) { // io.EOF: the error comes with Recv
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func secureRandomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// postHTTP posts body to url and returns the status code (0 with an error
// when no response came: a refused TLS handshake).
func postHTTP(ctx context.Context, url, contentType string, c clientCreds, body []byte) (int, error) {
	scheme := "http://"
	transport := &http.Transport{DisableKeepAlives: true}
	if c.tls != nil {
		scheme = "https://"
		transport.TLSClientConfig = c.tls
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, scheme+url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", contentType)
	if c.header != "" {
		req.Header.Set("Authorization", c.header)
	}
	resp, err := (&http.Client{Transport: transport, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestSecureGateway starts the shipped secure gateway config with a CA made
// here and checks every receiver (OTLP gRPC and HTTP, OpenCensus, Zipkin):
// no TLS, no client certificate, a certificate of an untrusted CA, no token,
// a wrong token, a wrong scheme are refused; a client certificate of the CA
// and the token are accepted, and exactly those spans reach the backend.
// Neither the token nor a private key appears in the collector's (debug)
// logs or in the exported data.
func TestSecureGateway(t *testing.T) {
	p := newTestPKI(t)
	token, wrong := secureToken(t), secureToken(t)
	// Two tokens (rotation): the first word of each line is a token.
	tokenFile := writeSecretFile(t, t.TempDir(), "token", []byte(wrong[:8]+"-old  # retired tomorrow\n"+token+"\n"))
	s := startSink(t)
	c := startSecureGateway(t, s.addr, p, tokenFile)

	good := &tls.Config{RootCAs: p.roots, Certificates: []tls.Certificate{p.client}, MinVersion: tls.VersionTLS12}
	noCert := &tls.Config{RootCAs: p.roots, MinVersion: tls.VersionTLS12}
	untrusted := &tls.Config{RootCAs: p.roots, Certificates: []tls.Certificate{p.untrusted}, MinVersion: tls.VersionTLS12}
	cases := []clientCreds{
		{name: "plaintext", header: "Bearer " + token},
		{name: "no client certificate", tls: noCert, header: "Bearer " + token},
		{name: "untrusted client certificate", tls: untrusted, header: "Bearer " + token},
		{name: "no token", tls: good, code: codes.Unauthenticated, httpStatus: http.StatusUnauthorized},
		{name: "wrong token", tls: good, header: "Bearer " + wrong, code: codes.Unauthenticated, httpStatus: http.StatusUnauthorized},
		{name: "wrong scheme", tls: good, header: "Basic " + token, code: codes.Unauthenticated, httpStatus: http.StatusUnauthorized},
		{name: "token without scheme", tls: good, header: token, code: codes.Unauthenticated, httpStatus: http.StatusUnauthorized},
		{name: "certificate and token", tls: good, header: "Bearer " + token, allowed: true},
	}

	var want []string // names of the spans that must arrive
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for _, cc := range cases {
		t.Run("otlp grpc/"+cc.name, func(t *testing.T) {
			name := "grpc " + cc.name
			if cc.acceptedGRPC(t, exportGRPC(ctx, c.ports.OTLPGRPC, cc, secureSpan(name, token))) {
				want = append(want, name)
			}
		})
		t.Run("otlp http/"+cc.name, func(t *testing.T) {
			name := "http " + cc.name
			body, err := ptraceotlp.NewExportRequestFromTraces(secureSpan(name, token)).MarshalProto()
			require.NoError(t, err)
			code, err := postHTTP(ctx, c.ports.OTLPHTTP+"/v1/traces", "application/x-protobuf", cc, body)
			if cc.acceptedHTTP(t, code, err, http.StatusOK) {
				want = append(want, name)
			}
		})
		t.Run("opencensus/"+cc.name, func(t *testing.T) {
			name := "opencensus " + cc.name
			if cc.acceptedGRPC(t, exportOC(ctx, c.ports.OpenCensus, cc, name, token)) {
				want = append(want, name)
			}
		})
		t.Run("zipkin/"+cc.name, func(t *testing.T) {
			name := "zipkin " + cc.name
			body := fmt.Sprintf(`[{"traceId":%q,"id":%q,"name":%q,"kind":"SERVER","timestamp":%d,"duration":1000,`+
				`"localEndpoint":{"serviceName":"secure-e2e"},"tags":{"http.url":"https://shop.example.com/?token=%s"}}]`,
				hex.EncodeToString(secureRandomBytes(16)), hex.EncodeToString(secureRandomBytes(8)), name, time.Now().UnixMicro(), token)
			code, err := postHTTP(ctx, c.ports.Zipkin+"/api/v2/spans", "application/json", cc, []byte(body))
			if cc.acceptedHTTP(t, code, err, http.StatusAccepted) {
				want = append(want, name)
			}
		})
	}
	require.Len(t, want, 4, "accepted requests")

	// Exactly the accepted spans arrive (sampling keeps everything here;
	// settle_time 1 s): give refused ones time to show up if they got in.
	s.waitForSpans(t, len(want), 20*time.Second)
	time.Sleep(3 * time.Second)
	var got []string
	for _, sp := range s.allSpans() {
		got = append(got, sp.Span.Name())
	}
	slices.Sort(got)
	slices.Sort(want)
	assert.Equal(t, want, got, "spans at the backend")

	// Nothing secret in the exported data: the captured header and the URL
	// secrets are redacted, the request's Authorization metadata
	// (include_metadata is on) is not copied into spans or resources.
	for _, sp := range s.allSpans() {
		attrs := sp.Span.Attributes().AsRaw()
		switch {
		case strings.HasPrefix(sp.Span.Name(), "zipkin"), strings.HasPrefix(sp.Span.Name(), "opencensus"):
			assert.Equal(t, "https://shop.example.com/?token=REDACTED", attrs["http.url"], sp.Span.Name())
		default:
			assert.Equal(t, []any{"REDACTED"}, attrs["http.request.header.authorization"], sp.Span.Name())
			assert.Equal(t, "https://shop.example.com/cart?access_token=REDACTED&item=7", attrs["url.full"], sp.Span.Name())
		}
		for k := range attrs {
			if strings.Contains(strings.ToLower(k), "authorization") {
				assert.Equal(t, "http.request.header.authorization", k, "a span attribute from request metadata")
			}
		}
		for k := range sp.Resource.Resource().Attributes().AsRaw() {
			assert.NotContains(t, strings.ToLower(k), "authorization", "a resource attribute from request metadata")
		}
	}
	var exported bytes.Buffer
	s.mu.Lock()
	for _, td := range s.traces {
		b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
		require.NoError(t, err)
		exported.Write(b)
	}
	s.mu.Unlock()
	assertNoSecrets(t, "exported data", exported.String(), p, token, wrong)

	// Nor in the logs, debug level included, up to the end of shutdown.
	c.stop(t)
	logs := c.log.String()
	require.Contains(t, logs, "Everything is ready", "the log was captured")
	assertNoSecrets(t, "the collector's log", logs, p, token, wrong)
}

// assertNoSecrets fails when a token, or any line of a private key's PEM
// body, appears in text.
func assertNoSecrets(t *testing.T, where, text string, p testPKI, tokens ...string) {
	t.Helper()
	for _, tok := range tokens {
		assert.NotContains(t, text, tok, "a token in %s", where)
	}
	for _, key := range p.keysPEM {
		for _, line := range strings.Split(string(key), "\n") {
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
				assert.NotContains(t, text, line, "private key material in %s", where)
			}
		}
	}
}

// secureAgentConfig is an agent-tier collector that exports to the secure
// gateway as the Helm chart's agent mode does: client certificate, the
// gateway's certificate checked against the CA and a server name (the agent
// dials an address), and the bearer token from a file.
const secureAgentConfig = `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
processors:
  mesh:
exporters:
  otlp_grpc:
    endpoint: %s
    tls:
      ca_file: %s
      cert_file: %s
      key_file: %s
      server_name_override: localhost
    auth:
      authenticator: bearertokenauth
extensions:
  health_check:
    endpoint: %s
  bearertokenauth:
    filename: %s
service:
  extensions: [health_check, bearertokenauth]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [mesh]
      exporters: [otlp_grpc]
  telemetry:
    logs:
      level: debug
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %d
`

// TestSecureAgentToGateway: a collector of the agent tier delivers to the
// secure gateway with its client certificate and the token (the client side
// of bearertokenauth), and neither collector logs the token or a key.
func TestSecureAgentToGateway(t *testing.T) {
	p := newTestPKI(t)
	token := secureToken(t)
	tokenFile := writeSecretFile(t, t.TempDir(), "token", []byte(token+"\n"))
	s := startSink(t)
	g := startSecureGateway(t, s.addr, p, tokenFile)
	dir := t.TempDir()
	agent := launch(t, s.addr, func(ps ports) ([]string, []string) {
		cfg := fmt.Sprintf(secureAgentConfig, ps.OTLPGRPC, g.ports.OTLPGRPC, p.caFile, p.clientCertFile, p.clientKeyFile, ps.Health, tokenFile, ps.MetricsPort)
		return nil, []string{"--config", writeSecretFile(t, dir, "agent.yaml", []byte(cfg))}
	})

	sendOTLPSpan(t, agent.ports.OTLPGRPC)
	spans := s.waitForSpans(t, 1, 20*time.Second)
	sp := findSpan(t, spans, "GET /checkout")
	assertAttr(t, sp.Resource.Resource().Attributes().AsRaw(), "service.name", "checkout")

	agent.stop(t)
	g.stop(t)
	for name, c := range map[string]*collector{"agent": agent, "gateway": g} {
		assertNoSecrets(t, "the "+name+"'s log", c.log.String(), p, token)
	}
}

// TestSecureGatewayNeedsItsFiles: the secure gateway does not run without
// its certificate or token file (it would refuse everything): it exits at
// startup naming the file.
func TestSecureGatewayNeedsItsFiles(t *testing.T) {
	p := newTestPKI(t)
	tokenFile := writeSecretFile(t, t.TempDir(), "token", []byte(secureToken(t)+"\n"))
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		name, env, want string
	}{
		{"certificate", "OTELCOL_MESH_TLS_CERT_FILE=" + missing, missing},
		{"client CA", "OTELCOL_MESH_TLS_CLIENT_CA_FILE=" + missing, missing},
		{"token", "OTELCOL_MESH_AUTH_TOKEN_FILE=" + missing, missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := newPorts(t, "127.0.0.1:1")
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			args := []string{"--config", repoPath("configs", "gateway-secure.yaml")}
			for _, o := range []string{
				"receivers::otlp::protocols::grpc::endpoint: " + ps.OTLPGRPC,
				"receivers::otlp::protocols::http::endpoint: " + ps.OTLPHTTP,
				"receivers::zipkin::endpoint: " + ps.Zipkin,
				"receivers::opencensus::endpoint: " + ps.OpenCensus,
				"extensions::health_check::endpoint: " + ps.Health,
				"extensions::bearertokenauth::retry_on_failure::max_retries: 2", // 30 s in the shipped file
				"service::telemetry::metrics::readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: " + fmt.Sprint(ps.MetricsPort) + "}}}}]",
			} {
				args = append(args, "--config", "yaml:"+o)
			}
			cmd := exec.CommandContext(ctx, binary, args...)
			cmd.Env = append(os.Environ(),
				"OTELCOL_MESH_BACKEND_ENDPOINT=127.0.0.1:1", "OTELCOL_MESH_BACKEND_INSECURE=true",
				"OTELCOL_MESH_TLS_CERT_FILE="+p.certFile, "OTELCOL_MESH_TLS_KEY_FILE="+p.keyFile,
				"OTELCOL_MESH_TLS_CLIENT_CA_FILE="+p.caFile, "OTELCOL_MESH_AUTH_TOKEN_FILE="+tokenFile,
				"OTELCOL_MESH_STORAGE_DIR="+t.TempDir(), tc.env) // the last one wins
			out, err := cmd.CombinedOutput()
			require.NoError(t, ctx.Err(), "still running after 30 s:\n%s", out)
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "started without the %s:\n%s", tc.name, out)
			assert.Contains(t, string(out), tc.want)
		})
	}
}

// TestSecureGatewayMatchesGateway: configs/gateway-secure.yaml is
// configs/gateway.yaml with secured receivers and the bearertokenauth
// extension. Processors, exporters, pipelines, telemetry and the other
// extensions must stay the same, so a change to one file that is not made to
// the other fails here.
func TestSecureGatewayMatchesGateway(t *testing.T) {
	load := func(name string) map[string]any {
		b, err := os.ReadFile(repoPath("configs", name))
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, yaml.Unmarshal(b, &m))
		return m
	}
	plain, secure := load("gateway.yaml"), load("gateway-secure.yaml")

	for _, key := range []string{"processors", "exporters", "connectors"} {
		assert.Equal(t, plain[key], secure[key], "%s differ: make the same change in both files", key)
	}
	ext := secure["extensions"].(map[string]any)
	require.Contains(t, ext, "bearertokenauth")
	delete(ext, "bearertokenauth")
	assert.Equal(t, plain["extensions"], secure["extensions"], "extensions (but bearertokenauth) differ")

	ps, ss := plain["service"].(map[string]any), secure["service"].(map[string]any)
	exts := ss["extensions"].([]any)
	assert.Equal(t, append(slices.Clone(ps["extensions"].([]any)), "bearertokenauth"), exts, "service.extensions")
	delete(ps, "extensions")
	delete(ss, "extensions")
	assert.Equal(t, ps, ss, "service (but extensions) differs")

	// The same receivers, each with TLS (server certificate, client CA) and
	// the authenticator; the listeners are unchanged.
	pr, sr := plain["receivers"].(map[string]any), secure["receivers"].(map[string]any)
	var servers [][2]map[string]any // (plain, secure) server blocks
	for name, v := range pr {
		require.Contains(t, sr, name, "receiver %s is missing", name)
		if name == "otlp" {
			for _, proto := range []string{"grpc", "http"} {
				servers = append(servers, [2]map[string]any{
					cfgMap(v, "protocols", proto), cfgMap(sr[name], "protocols", proto)})
			}
			continue
		}
		servers = append(servers, [2]map[string]any{v.(map[string]any), sr[name].(map[string]any)})
	}
	assert.Len(t, sr, len(pr), "receivers")
	require.Len(t, servers, 4)
	for _, s := range servers {
		tlsCfg, _ := s[1]["tls"].(map[string]any)
		for _, k := range []string{"cert_file", "key_file", "client_ca_file"} {
			assert.Contains(t, tlsCfg[k], "${env:OTELCOL_MESH_TLS_", "%v: tls.%s", s[1]["endpoint"], k)
		}
		assert.Equal(t, map[string]any{"authenticator": "bearertokenauth"}, s[1]["auth"], "%v: auth", s[1]["endpoint"])
		rest := map[string]any{}
		for k, v := range s[1] {
			if k != "tls" && k != "auth" {
				rest[k] = v
			}
		}
		assert.Equal(t, s[0], rest, "a secured receiver differs from the plain one beyond tls and auth")
	}
}

func cfgMap(v any, path ...string) map[string]any {
	for _, p := range path {
		v = v.(map[string]any)[p]
	}
	m, _ := v.(map[string]any)
	return m
}
