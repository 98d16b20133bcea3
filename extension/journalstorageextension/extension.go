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
	"go.uber.org/zap"

	"github.com/otelcol-mesh/otelcol-mesh/extension/journalstorageextension/internal/journal"
)

type journalStorage struct {
	cfg    *Config
	logger *zap.Logger

	mu      sync.Mutex
	clients []*journal.Store // closed at Shutdown if their owners did not
}

var _ storage.Extension = (*journalStorage)(nil)

func (*journalStorage) Start(context.Context, component.Host) error { return nil }

// Shutdown closes the journals left open.
func (j *journalStorage) Shutdown(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var errs []error
	for _, c := range j.clients {
		errs = append(errs, c.Close(ctx))
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
	path := filepath.Join(j.cfg.Directory, journalName(kind, id, storageName))
	s, err := journal.Open(path, journal.Options{Fsync: j.cfg.Fsync, Logger: j.logger})
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.clients = append(j.clients, s)
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
