package opencensusreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/confignet"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-mesh/otelcol-mesh/receiver/opencensusreceiver/internal/metadata"
)

func TestDefaultConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, "localhost:55678", cfg.NetAddr.Endpoint)
	assert.Equal(t, confignet.TransportTypeTCP, cfg.NetAddr.Transport)
	assert.False(t, cfg.TLS.HasValue(), "no TLS by default")
	assert.True(t, cfg.Keepalive.HasValue(), "collector's default keepalive")
	assert.Zero(t, cfg.MaxRecvMsgSizeMiB, "gRPC's default 4 MiB")
	assert.NoError(t, cfg.Validate())
}

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	custom := createDefaultConfig().(*Config)
	custom.NetAddr.Endpoint = "0.0.0.0:55679"
	custom.MaxRecvMsgSizeMiB = 16
	custom.MaxConcurrentStreams = 500
	custom.IncludeMetadata = true
	tls := configtls.NewDefaultServerConfig()
	tls.CertFile = "/etc/otelcol/tls.crt"
	tls.KeyFile = "/etc/otelcol/tls.key"
	custom.TLS = configoptional.Some(tls)
	params := configgrpc.NewDefaultKeepaliveServerParameters()
	params.MaxConnectionAge = 10 * time.Minute
	params.Time = 30 * time.Second
	policy := configgrpc.NewDefaultKeepaliveEnforcementPolicy()
	policy.MinTime = 10 * time.Second
	policy.PermitWithoutStream = true
	keepalive := configgrpc.NewDefaultKeepaliveServerConfig()
	keepalive.ServerParameters = configoptional.Some(params)
	keepalive.EnforcementPolicy = configoptional.Some(policy)
	custom.Keepalive = configoptional.Some(keepalive)

	unix := createDefaultConfig().(*Config)
	unix.NetAddr.Transport = confignet.TransportTypeUnix
	unix.NetAddr.Endpoint = "/var/run/otelcol/opencensus.sock"

	tests := []struct {
		name    string
		want    *Config
		wantErr string
	}{
		{name: "", want: createDefaultConfig().(*Config)},
		{name: "custom", want: custom},
		{name: "unix", want: unix},
		{name: "no_port", wantErr: `endpoint: "localhost" must be host:port`},
		{name: "udp", wantErr: `transport: "udp" is not supported, use tcp, tcp4, tcp6 or unix`},
		{name: "empty_endpoint", wantErr: "endpoint: must not be empty"},
		{name: "negative_msg_size", wantErr: "invalid max_recv_msg_size_mib value"},
	}
	for _, tt := range tests {
		id := component.NewIDWithName(metadata.Type, tt.name)
		t.Run(id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"tcp6", func(c *Config) { c.NetAddr.Transport = confignet.TransportTypeTCP6; c.NetAddr.Endpoint = "[::1]:55678" }, ""},
		{"empty transport", func(c *Config) { c.NetAddr.Transport = "" }, `transport: "" is not supported`},
		{"unix without path", func(c *Config) { c.NetAddr.Transport = confignet.TransportTypeUnix; c.NetAddr.Endpoint = "" }, "endpoint: must be a socket path with transport unix"},
		{"missing port", func(c *Config) { c.NetAddr.Endpoint = "0.0.0.0" }, `endpoint: "0.0.0.0" must be host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.mutate(cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
