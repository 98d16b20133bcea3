package journalstorageextension // import "github.com/otelcol-mesh/otelcol-mesh/extension/journalstorageextension"

import (
	"errors"
	"fmt"
	"os"
)

// Config configures the journal storage.
type Config struct {
	// Directory holds one journal per client: a directory of segment files
	// and a lock file. It must not be shared by two processes: a second
	// process is refused the journals the first one has open.
	Directory string `mapstructure:"directory"`
	// CreateDirectory creates Directory (and its parents) when a client
	// is first opened. Without it, Directory must exist at startup.
	CreateDirectory bool `mapstructure:"create_directory"`
	// Fsync waits for the disk after each write. Without it, a write is in
	// the kernel's page cache when the queue accepts the data, which a
	// crash or SIGKILL of the process does not lose, but a crash of the
	// node (kernel, power) can.
	Fsync bool `mapstructure:"fsync"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks that a directory is set and, unless it is to be
// created, that it exists.
func (c *Config) Validate() error {
	if c.Directory == "" {
		return errors.New("directory must be set")
	}
	if c.CreateDirectory {
		return nil
	}
	info, err := os.Stat(c.Directory)
	if err != nil {
		return fmt.Errorf("directory %q: %w (set create_directory: true to create it)", c.Directory, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("directory %q is not a directory", c.Directory)
	}
	return nil
}
