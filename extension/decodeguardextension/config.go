package decodeguardextension // import "github.com/otelcol-mesh/otelcol-mesh/extension/decodeguardextension"

import "fmt"

// Config configures the decode guard.
type Config struct {
	// MaxDepth is the deepest nesting a request may have: of protobuf
	// messages (an OTLP span's attribute value is at depth 5, and every
	// level of nested map adds 3) or of JSON objects and arrays (every level
	// of nested map adds 4). The default, 64, admits attribute maps nested
	// about 19 levels deep in protobuf and 13 in JSON.
	MaxDepth int `mapstructure:"max_depth"`

	// prevent unkeyed literal initialization
	_ struct{}
}

const (
	minDepth = 16 // below this, ordinary OTLP requests would be refused
	maxDepth = 10_000
)

// Validate checks the limit.
func (c *Config) Validate() error {
	if c.MaxDepth < minDepth || c.MaxDepth > maxDepth {
		return fmt.Errorf("max_depth: %d must be between %d and %d", c.MaxDepth, minDepth, maxDepth)
	}
	return nil
}
