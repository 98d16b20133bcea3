package meshprocessor

import (
	"path/filepath"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadata"
)

// FuzzProcessTraces feeds arbitrary OTLP protobuf through the whole
// processing path: whatever decodes must come out without a panic, and a
// second pass must not change it (normalizing is idempotent).
func FuzzProcessTraces(f *testing.F) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "golden", "*_input.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	marshaler := ptrace.ProtoMarshaler{}
	for _, in := range inputs {
		td, err := golden.ReadTraces(in)
		if err != nil {
			f.Fatal(err)
		}
		b, err := marshaler.MarshalTraces(td)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// Both namings: the default keeps the proxy's names, semconv renames.
	var processors []*meshProcessor
	for _, naming := range []string{namingKiali, namingSemconv} {
		cfg := goldenConfig()
		cfg.Naming = naming
		p, err := newMeshProcessor(processortest.NewNopSettings(metadata.Type), cfg)
		if err != nil {
			f.Fatal(err)
		}
		processors = append(processors, p)
	}
	unmarshaler := ptrace.ProtoUnmarshaler{}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range processors {
			td, err := unmarshaler.UnmarshalTraces(data)
			if err != nil {
				return
			}
			once, err := p.processTraces(t.Context(), td)
			if err != nil {
				t.Fatal(err)
			}
			again := ptrace.NewTraces()
			once.CopyTo(again)
			twice, err := p.processTraces(t.Context(), again)
			if err != nil {
				t.Fatal(err)
			}
			if err := ptracetest.CompareTraces(once, twice); err != nil {
				t.Fatalf("naming %s: second pass changed the output: %v", p.cfg.Naming, err)
			}
		}
	})
}
