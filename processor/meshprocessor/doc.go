// Package meshprocessor normalizes spans from service-mesh proxies (Envoy, Istio,
// Linkerd) to OpenTelemetry semantic conventions and attaches mesh attributes.
package meshprocessor // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor"

//go:generate make -C ../.. generate
