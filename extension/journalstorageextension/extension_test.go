package journalstorageextension

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-mesh/otelcol-mesh/extension/journalstorageextension/internal/metadata"
	"github.com/otelcol-mesh/otelcol-mesh/extension/journalstorageextension/internal/metadatatest"
)

func writeFile(path string) error { return os.WriteFile(path, []byte("x"), 0o600) }

func newStorage(t *testing.T, cfg *Config) storage.Extension {
	t.Helper()
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	return ext.(storage.Extension)
}

var otlp = component.MustNewID("otlp_grpc")

// TestClientsPersistPerComponent: each component's storage is its own
// file, created with its directory, and what a client wrote is there for
// the same component after a restart of the extension.
func TestClientsPersistPerComponent(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "queue", "nested")
	cfg := &Config{Directory: dir, CreateDirectory: true}
	ext := newStorage(t, cfg)
	traces, err := ext.GetClient(ctx, component.KindExporter, otlp, "traces")
	require.NoError(t, err)
	logs, err := ext.GetClient(ctx, component.KindExporter, otlp, "logs")
	require.NoError(t, err)
	require.NoError(t, traces.Set(ctx, "k", []byte("traces")))
	require.NoError(t, logs.Set(ctx, "k", []byte("logs")))

	_, err = ext.GetClient(ctx, component.KindExporter, otlp, "traces")
	require.ErrorContains(t, err, "in use by another process or component")

	require.NoError(t, traces.Close(ctx))
	require.NoError(t, ext.Shutdown(ctx), "closes logs, left open, and traces again")
	assert.ErrorContains(t, logs.Set(ctx, "k", nil), "closed")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"exporter_otlp_grpc__logs.journal", "exporter_otlp_grpc__traces.journal"}, names)
	segments, err := os.ReadDir(filepath.Join(dir, "exporter_otlp_grpc__traces.journal"))
	require.NoError(t, err)
	require.Len(t, segments, 2)
	assert.Equal(t, "0000000000000001.seg", segments[0].Name())
	assert.Equal(t, "lock", segments[1].Name())

	ext = newStorage(t, cfg)
	traces, err = ext.GetClient(ctx, component.KindExporter, otlp, "traces")
	require.NoError(t, err)
	v, err := traces.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, []byte("traces"), v)
	require.NoError(t, ext.Shutdown(ctx))
}

func TestMissingDirectoryIsAnErrorWithoutCreateDirectory(t *testing.T) {
	ext := newStorage(t, &Config{Directory: filepath.Join(t.TempDir(), "gone")})
	_, err := ext.GetClient(context.Background(), component.KindExporter, otlp, "traces")
	assert.ErrorContains(t, err, "no such file or directory")
}

func TestJournalNames(t *testing.T) {
	assert.Equal(t, "exporter_otlp_grpc_backend_traces.journal",
		journalName(component.KindExporter, component.MustNewIDWithName("otlp_grpc", "backend"), "traces"))
	assert.Equal(t, "receiver_otlp_a.b-~C3~BC.journal",
		journalName(component.KindReceiver, component.MustNewIDWithName("otlp", "a.b-ü"), ""))
	long := journalName(component.KindExporter, component.MustNewIDWithName("otlp", strings.Repeat("n", 300)), "traces")
	assert.Len(t, long, 64+len(".journal"), "a name too long for a file is hashed")
}

// TestJournalBytesReported: otelcol_journal_storage_bytes gives each open
// journal's bytes on disk, and nothing for a journal once it is closed.
func TestJournalBytesReported(t *testing.T) {
	ctx := context.Background()
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(ctx)) })
	dir := t.TempDir()
	ext, err := NewFactory().Create(ctx, metadatatest.NewSettings(tt), &Config{Directory: dir})
	require.NoError(t, err)
	require.NoError(t, ext.Start(ctx, componenttest.NewNopHost()))
	st := ext.(storage.Extension)
	traces, err := st.GetClient(ctx, component.KindExporter, otlp, "traces")
	require.NoError(t, err)
	logs, err := st.GetClient(ctx, component.KindExporter, otlp, "logs")
	require.NoError(t, err)
	require.NoError(t, traces.Set(ctx, "0", make([]byte, 5000)))

	onDisk := func(name string) int64 {
		n, err := os.ReadFile(filepath.Join(dir, name, "0000000000000001.seg"))
		require.NoError(t, err)
		return int64(len(n))
	}
	tracesBytes := onDisk("exporter_otlp_grpc__traces.journal")
	require.Greater(t, tracesBytes, int64(5000))
	metadatatest.AssertEqualJournalStorageBytes(t, tt, []metricdata.DataPoint[int64]{
		{Value: tracesBytes, Attributes: attribute.NewSet(attribute.String("journal", "exporter_otlp_grpc__traces.journal"))},
		{Value: 0, Attributes: attribute.NewSet(attribute.String("journal", "exporter_otlp_grpc__logs.journal"))},
	}, metricdatatest.IgnoreTimestamp())

	require.NoError(t, logs.Close(ctx))
	metadatatest.AssertEqualJournalStorageBytes(t, tt, []metricdata.DataPoint[int64]{
		{Value: tracesBytes, Attributes: attribute.NewSet(attribute.String("journal", "exporter_otlp_grpc__traces.journal"))},
	}, metricdatatest.IgnoreTimestamp())
	require.NoError(t, ext.Shutdown(ctx))
}
