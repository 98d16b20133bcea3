package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	// The collector exporter compresses with gzip by default; configgrpc
	// registers snappy and zstd, which the shipped sidecar exports with.
	_ "go.opentelemetry.io/collector/config/configgrpc"
	_ "google.golang.org/grpc/encoding/gzip"
)

// sink counts what the collector exports, per trace, with arrival times.
type sink struct {
	ptraceotlp.UnimplementedGRPCServer
	addr string
	srv  *grpc.Server

	mu      sync.Mutex
	spans   int
	traces  map[pcommon.TraceID]int
	arrival map[pcommon.TraceID]time.Time
	last    time.Time
}

func startSink() (*sink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{addr: l.Addr().String(), srv: grpc.NewServer(grpc.MaxRecvMsgSize(1 << 30)), traces: map[pcommon.TraceID]int{}, arrival: map[pcommon.TraceID]time.Time{}}
	ptraceotlp.RegisterGRPCServer(s.srv, s)
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

func (s *sink) stop() { s.srv.Stop() }

func (s *sink) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range req.Traces().ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				id := sp.TraceID()
				if _, ok := s.arrival[id]; !ok {
					s.arrival[id] = now
				}
				s.traces[id]++
				s.spans++
			}
		}
	}
	s.last = now
	return ptraceotlp.NewExportResponse(), nil
}

// idleFor is how long ago the last export arrived.
func (s *sink) idleFor() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last.IsZero() {
		return 0
	}
	return time.Since(s.last)
}

func (s *sink) result() (int, map[pcommon.TraceID]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spans, s.traces
}

func (s *sink) firstArrival() map[pcommon.TraceID]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.arrival
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitHealthy(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("collector not healthy after %s", timeout)
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

// cpuTime is the process's user+system CPU time from /proc/<pid>/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may contain spaces) in parentheses.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// peakRSS is VmHWM from /proc/<pid>/status.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
