package journalstorageextension // import "github.com/otelcol-mesh/otelcol-mesh/extension/journalstorageextension"

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-mesh/otelcol-mesh/extension/journalstorageextension/internal/journal"
	"github.com/otelcol-mesh/otelcol-mesh/extension/journalstorageextension/internal/metadata"
)

type journalStorage struct {
	cfg    *Config
	logger *zap.Logger
	tel    *metadata.TelemetryBuilder

	mu      sync.Mutex
	clients []client // closed at Shutdown if their owners did not
}

type client struct {
	name  string // the journal's directory name
	store *journal.Store
}

var _ storage.Extension = (*journalStorage)(nil)

// Start reports the size of each open journal.
func (j *journalStorage) Start(context.Context, component.Host) error {
	return j.tel.RegisterJournalStorageBytesCallback(func(_ context.Context, o metric.Int64Observer) error {
		j.mu.Lock()
		defer j.mu.Unlock()
		for _, c := range j.clients {
			if size, open := c.store.Size(); open {
				o.Observe(size, metric.WithAttributes(attribute.String("journal", c.name)))
			}
		}
		return nil
	})
}

// Shutdown closes the journals left open.
func (j *journalStorage) Shutdown(ctx context.Context) error {
	j.tel.Shutdown()
	j.mu.Lock()
	defer j.mu.Unlock()
	var errs []error
	for _, c := range j.clients {
		errs = append(errs, c.store.Close(ctx))
	}
	j.clients = nil
	return errors.Join(errs...)
}

// GetClient opens the journal of one component's storage: a directory of
// segment files in Directory.
func (j *journalStorage) GetClient(_ context.Context, kind component.Kind, id component.ID, storageName string) (storage.Client, error) {
	if j.cfg.CreateDirectory {
		if err := os.MkdirAll(j.cfg.Directory, 0o750); err != nil {
			return nil, fmt.Errorf("journal_storage: creating the directory: %w", err)
		}
	} else if _, err := os.Stat(j.cfg.Directory); err != nil {
		return nil, fmt.Errorf("journal_storage: %w", err)
	}
	name := journalName(kind, id, storageName)
	s, err := journal.Open(filepath.Join(j.cfg.Directory, name), journal.Options{Fsync: j.cfg.Fsync, Logger: j.logger})
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.clients = append(j.clients, client{name: name, store: s})
	return s, nil
}

// maxName keeps a journal's directory name under the usual 255 bytes; a
// longer one is replaced by its hash.
const maxName = 200

// journalName is kind_type_name[_storageName].journal, with every byte that
// is not a letter, digit, '.', '-' or '_' written as ~XX, so that two
// components never share a journal.
func journalName(kind component.Kind, id component.ID, storageName string) string {
	raw := strings.ToLower(kind.String()) + "_" + id.Type().String() + "_" + id.Name()
	if storageName != "" {
		raw += "_" + storageName
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-', c == '_':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "~%02X", c)
		}
	}
	name := b.String()
	if len(name) > maxName {
		sum := sha256.Sum256([]byte(raw))
		name = hex.EncodeToString(sum[:])
	}
	return name + ".journal"
}
