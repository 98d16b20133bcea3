// Package grpccode names gRPC status codes the way OpenTelemetry and
// OpenCensus write them (UNAVAILABLE, NOT_FOUND …); the mesh processor and
// the OpenCensus receiver both need the table.
package grpccode // import "github.com/otelcol-mesh/otelcol-mesh/internal/grpccode"

// names are the canonical code names, indexed by code.
var names = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
}

// Name returns the name of a canonical gRPC code; ok is false outside 0–16.
func Name(code int) (name string, ok bool) {
	if code < 0 || code >= len(names) {
		return "", false
	}
	return names[code], true
}
