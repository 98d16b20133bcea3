package opencensusreceiver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	agenttracepb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/trace/v1"
	tracepb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// selfSignedCert writes a certificate and key for 127.0.0.1 and returns
// their paths and a pool that trusts the certificate.
func selfSignedCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "otelcol-mesh test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestExportOverTLS(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t)
	sink := new(consumertest.TracesSink)
	r, _ := startReceiver(t, sink, func(c *Config) {
		tlsCfg := configtls.NewDefaultServerConfig()
		tlsCfg.CertFile, tlsCfg.KeyFile = certFile, keyFile
		c.TLS = configoptional.Some(tlsCfg)
	})

	// A plaintext client cannot talk to the TLS endpoint.
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	plain, err := agenttracepb.NewTraceServiceClient(dial(t, r)).Export(ctx)
	if err == nil {
		_ = plain.Send(&agenttracepb.ExportTraceServiceRequest{Spans: []*tracepb.Span{ocSpan("/plaintext", 1)}})
		_, err = plain.Recv()
	}
	assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)

	secure := openExport(t, dial(t, r, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))))
	require.NoError(t, secure.Send(&agenttracepb.ExportTraceServiceRequest{Node: linkerdNode("web-1"), Spans: []*tracepb.Span{ocSpan("/tls", 2)}}))
	require.NoError(t, streamEnd(t, secure, true))
	assert.Equal(t, map[string]map[string]any{"/tls": {
		"service.name": "linkerd-proxy", "host.name": "web-1", "process.pid": int64(1),
		"process.start_timestamp": int64(1714550000), "app": "web", "linkerd.io/workload-ns": "emojivoto",
	}}, spanResources(sink))
}
