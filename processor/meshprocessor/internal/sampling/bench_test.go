package sampling

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// BenchmarkLargeTrace: a trace of n spans arriving one span per request.
// Completeness is kept up to date per span (complete.go), so the cost per
// span stays flat from 100 to 10 000 spans instead of growing with n.
func BenchmarkLargeTrace(b *testing.B) {
	for _, n := range []int{100, 1000, 10_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			set := defaultSettings()
			set.MaxSpansPerTrace = n + 1
			set.MaxBytesPerTrace = 1 << 30
			set.MaxBufferedBytes = 1 << 40
			te := newTestEngine(b, set)
			reqs := make([]ptrace.Traces, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				id := traceID(uint64(i)+1, uint64(i)+1)
				for j := range reqs {
					reqs[j] = buildTraces("a", spanSpec{trace: id, id: uint64(j + 1), parent: uint64(j), kind: ptrace.SpanKindInternal})
				}
				b.StartTimer()
				for _, r := range reqs {
					_ = te.Ingest(b.Context(), r)
				}
				b.StopTimer()
				te.after(31 * time.Second) // decide it outside the measurement
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
		})
	}
}

// BenchmarkTick: one decision round with n traces buffered and none due.
// A round looks only at the traces due (due.go), plus a sweep for max_wait
// about once a second (every 50th round of 20 ms), so its cost per round
// grows far slower than n.
func BenchmarkTick(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			set := defaultSettings()
			set.TickInterval = 20 * time.Millisecond
			set.MaxWait = time.Hour
			set.MaxBufferedBytes = 1 << 40
			te := newTestEngine(b, set)
			for i := range n { // an outbound hop without its server span: never complete
				id := traceID(uint64(i)+1, 7)
				_ = te.Ingest(b.Context(), buildTraces("a", spanSpec{trace: id, id: 1, kind: ptrace.SpanKindClient, direction: "outbound", dest: "b"}))
			}
			b.ResetTimer()
			for b.Loop() {
				te.after(set.TickInterval)
			}
			b.StopTimer()
			if got := te.QueuedIDs(); got != n {
				b.Fatalf("%d traces buffered, want %d: none was due", got, n)
			}
		})
	}
}
