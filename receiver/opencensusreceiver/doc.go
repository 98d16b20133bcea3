// Package opencensusreceiver receives traces over the OpenCensus agent
// protocol (opencensus.proto.agent.trace.v1.TraceService/Export), the protocol
// Linkerd 2.14–2.17 proxies export by default, and passes them on as
// OpenTelemetry spans.
package opencensusreceiver // import "github.com/otelcol-mesh/otelcol-mesh/receiver/opencensusreceiver"

//go:generate make -C ../.. generate
