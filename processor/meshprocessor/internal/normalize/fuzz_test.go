package normalize

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// FuzzNormalize feeds arbitrary OTLP protobuf through normalizing: whatever
// decodes must come out without a panic, a second pass must not change it
// (normalizing is idempotent), and deferred normalizing (decision attributes
// first, the rest once kept) must give the same.
func FuzzNormalize(f *testing.F) {
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
	kiali, semconv := goldenSettings(f), goldenSettings(f)
	semconv.SemconvNames = true
	unmarshaler := ptrace.ProtoUnmarshaler{}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, set := range []Settings{kiali, semconv} {
			td, err := unmarshaler.UnmarshalTraces(data)
			if err != nil {
				return
			}
			once := process(t, set, td)
			again := ptrace.NewTraces()
			once.CopyTo(again)
			twice := process(t, set, again)
			if err := ptracetest.CompareTraces(once, twice); err != nil {
				t.Fatalf("semconv names %v: second pass changed the output: %v", set.SemconvNames, err)
			}
			split, err := unmarshaler.UnmarshalTraces(data)
			if err != nil {
				t.Fatal(err)
			}
			if want, got := bySpan(once), bySpan(deferred(set, split, "")); !reflect.DeepEqual(want, got) {
				t.Fatalf("semconv names %v: deferred normalizing differs:\n%v\n%v", set.SemconvNames, want, got)
			}
		}
	})
}
