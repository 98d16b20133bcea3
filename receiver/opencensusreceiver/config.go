package opencensusreceiver // import "github.com/otelcol-mesh/otelcol-mesh/receiver/opencensusreceiver"

import (
	"errors"
	"fmt"
	"net"

	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/confignet"
)

// Config configures the OpenCensus receiver. It is the collector's standard
// gRPC server configuration, so the keys of the removed contrib receiver that
// the linkerd-jaeger collector used keep working: endpoint (default
// localhost:55678), transport, tls, keepalive, max_recv_msg_size_mib,
// max_concurrent_streams, read_buffer_size, write_buffer_size, auth,
// include_metadata.
type Config struct {
	configgrpc.ServerConfig `mapstructure:",squash"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the configuration; every error names the YAML key at fault.
// configgrpc validates its own keys (max_recv_msg_size_mib, read_buffer_size …).
func (cfg *Config) Validate() error {
	var errs []error
	switch cfg.NetAddr.Transport {
	case confignet.TransportTypeTCP, confignet.TransportTypeTCP4, confignet.TransportTypeTCP6:
		if cfg.NetAddr.Endpoint == "" {
			errs = append(errs, errors.New("endpoint: must not be empty (default localhost:55678)"))
		} else if _, _, err := net.SplitHostPort(cfg.NetAddr.Endpoint); err != nil {
			errs = append(errs, fmt.Errorf("endpoint: %q must be host:port: %w", cfg.NetAddr.Endpoint, err))
		}
	case confignet.TransportTypeUnix:
		if cfg.NetAddr.Endpoint == "" {
			errs = append(errs, errors.New("endpoint: must be a socket path with transport unix"))
		}
	default:
		errs = append(errs, fmt.Errorf("transport: %q is not supported, use tcp, tcp4, tcp6 or unix", cfg.NetAddr.Transport))
	}
	return errors.Join(errs...)
}
