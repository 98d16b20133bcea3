// Package decodeguardextension is a server middleware for the OTLP receiver:
// it measures how deeply a request's messages nest before the receiver
// decodes it, and refuses requests that nest deeper than max_depth. OTLP
// attribute values can nest maps and arrays without limit, and decoding is
// recursive: a 4 MB request nesting maps 240 000 deep costs the decoder
// about 150 MB, mostly goroutine stack, before any processor (memory_limiter
// included) sees it.
package decodeguardextension // import "github.com/otelcol-mesh/otelcol-mesh/extension/decodeguardextension"

//go:generate make -C ../.. generate
