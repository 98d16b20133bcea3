package opencensusreceiver // import "github.com/otelcol-mesh/otelcol-mesh/receiver/opencensusreceiver"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/otelcol-mesh/otelcol-mesh/receiver/opencensusreceiver/internal/metadata"
)

// defaultEndpoint is the OpenCensus agent's well-known port, where Linkerd
// proxies and the linkerd-jaeger chart send (collector.linkerd-jaeger:55678).
const defaultEndpoint = "localhost:55678"

// NewFactory returns the factory of the OpenCensus receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithTraces(createTraces, metadata.TracesStability),
	)
}

func createDefaultConfig() component.Config {
	grpcCfg := configgrpc.NewDefaultServerConfig()
	grpcCfg.NetAddr.Endpoint = defaultEndpoint
	return &Config{ServerConfig: grpcCfg}
}

func createTraces(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
	return newReceiver(cfg.(*Config), set, next)
}
