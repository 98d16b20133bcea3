// Command meshbench runs the same meshgen load (same rate, same traces)
// through several pipelines of the built otelcol-mesh binary (pass-through,
// contrib transform + tail_sampling, and the shipped configs/gateway.yaml and
// configs/sidecar.yaml), one after the other, into the same in-process OTLP
// sink, and prints per pipeline the collector's CPU seconds per span, peak
// RSS, accepted and exported spans per second and decision latency, then the
// ratios to pass-through and contrib against the targets of issue 11.
// `make bench-pipelines` runs it from the repository root.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshbench"
	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

func main() {
	binary := flag.String("binary", "_build/otelcol-mesh", "the otelcol-mesh binary")
	rate := flag.Float64("rate", 2000, "bookinfo traces per second (about 9 spans each)")
	duration := flag.Duration("duration", 20*time.Second, "load duration per pipeline")
	only := flag.String("pipelines", "passthrough,contrib,gateway,sidecar", "pipelines to run, in order")
	configs := flag.String("configs", "configs", "directory of the shipped configs")
	ceilingMode := flag.Bool("ceiling", false, "offer as much as the load generator can (-senders concurrent exports, -rate ignored) and report accepted spans/s and refusals")
	senders := flag.Int("senders", 4, "concurrent exports with -ceiling")
	collectorCPUs := flag.String("collector-cpus", "", "pin the collector to these CPUs (taskset -c), e.g. 1")
	profileDir := flag.String("profile", "", "write each pipeline's CPU profile (whole run) and heap profile (at the end of the load) to this directory, as <pipeline>.cpu.pprof and <pipeline>.heap.pprof (the last round's); the profiler's own cost is then in the measured CPU")
	rounds := flag.Int("rounds", 1, "run the pipelines in turn this many times and report, for each, the round with the median CPU per span (with -ceiling: accepted spans/s) and the median peak RSS, and as CPU ratios the medians of the rounds' ratios; host noise moves single runs by about 10 %")
	flag.Parse()
	// The decision latency target is the gateway's settle_time + 100 ms.
	settle, err := settleTime(filepath.Join(*configs, "gateway.yaml"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "meshbench: %v\n", err)
		os.Exit(1)
	}
	if *profileDir != "" {
		if err := os.MkdirAll(*profileDir, 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "meshbench: %v\n", err)
			os.Exit(1)
		}
	}
	var pipelines []meshbench.Pipeline
	for _, name := range strings.Split(*only, ",") {
		p, ok := pipeline(name)
		if !ok {
			fmt.Fprintf(os.Stderr, "meshbench: unknown pipeline %q\n", name)
			os.Exit(2)
		}
		pipelines = append(pipelines, p)
	}
	load := func(endpoint string, r *result) (map[pcommon.TraceID]time.Time, error) {
		return sendLoad(endpoint, *rate, *duration, r)
	}
	if *ceilingMode {
		load = func(endpoint string, r *result) (map[pcommon.TraceID]time.Time, error) {
			return nil, flood(endpoint, *senders, *duration, r)
		}
	}
	byRound := make(map[string][]*result, len(pipelines))
	for range max(*rounds, 1) {
		for _, p := range pipelines {
			r, err := run(*binary, *configs, *collectorCPUs, *profileDir, p, load, *duration)
			if err != nil {
				fmt.Fprintf(os.Stderr, "meshbench: %s: %v\n", p.Name, err)
				os.Exit(1)
			}
			byRound[p.Name] = append(byRound[p.Name], r)
		}
	}
	var results []*result
	for _, p := range pipelines {
		r := median(byRound[p.Name], *ceilingMode)
		r.rounds = byRound[p.Name]
		results = append(results, r)
	}
	if *rounds > 1 {
		fmt.Printf("\neach pipeline: the median of %d rounds (pipelines run in turn, round after round)\n", *rounds)
	}
	if *ceilingMode {
		reportCeiling(os.Stdout, results, *senders, *duration)
		return
	}
	report(os.Stdout, results, *rate, *duration, settle)
}

// median returns the round with the median CPU per span (ceiling: the
// median accepted spans), carrying the median peak RSS of all rounds.
func median(rs []*result, ceiling bool) *result {
	key := func(r *result) float64 { return r.cpu.Seconds() / float64(max(r.sentSpans, 1)) }
	if ceiling {
		key = func(r *result) float64 { return float64(r.sentSpans) }
	}
	byKey := slices.Clone(rs)
	slices.SortFunc(byKey, func(a, b *result) int { return cmp.Compare(key(a), key(b)) })
	m := *byKey[len(byKey)/2]
	rss := make([]int64, len(rs))
	for i, r := range rs {
		rss[i] = r.peakRSS
	}
	slices.Sort(rss)
	m.peakRSS = rss[len(rss)/2]
	return &m
}

func pipeline(name string) (meshbench.Pipeline, bool) {
	for _, p := range meshbench.Pipelines {
		if p.Name == name {
			return p, true
		}
	}
	return meshbench.Pipeline{}, false
}

// result is what one pipeline did with the load.
type result struct {
	name        string
	sentSpans   int
	exported    int
	cpu         time.Duration
	peakRSS     int64 // bytes
	elapsed     time.Duration
	latencies   []time.Duration // collector acknowledged a trace → its first span at the sink
	kept        map[pcommon.TraceID]int
	interesting map[pcommon.TraceID]int // error/failure/slow/canary trace → span count
	refused     int                     // spans in exports the collector refused (-ceiling)
	rounds      []*result               // every round of the pipeline, in order (the median round's result only)
}

func run(binary, configs, cpus, profileDir string, p meshbench.Pipeline, load func(string, *result) (map[pcommon.TraceID]time.Time, error), duration time.Duration) (*result, error) {
	s, err := startSink()
	if err != nil {
		return nil, err
	}
	defer s.stop()
	dir, err := os.MkdirTemp("", "meshbench")
	if err != nil {
		return nil, err
	}
	defer func() {
		if os.Getenv("MESHBENCH_KEEP") == "" {
			os.RemoveAll(dir)
		}
	}()
	otlp, health := freeAddr(), freeAddr()
	var args []string
	file := filepath.Join(dir, "config.yaml")
	if p.Shipped != "" {
		file = filepath.Join(configs, p.Shipped)
		args = shippedArgs(file, otlp, health)
		for _, o := range p.Overrides {
			args = append(args, "--config", "yaml:"+o)
		}
	} else {
		if err := os.WriteFile(file, []byte(collectorConfig(p, otlp, health, s.addr)), 0o600); err != nil {
			return nil, err
		}
		args = []string{"--config", file}
	}
	var prof *profiler
	if profileDir != "" {
		c, err := readConfig(file)
		if err != nil {
			return nil, err
		}
		prof = newProfiler(profileDir, p.Name)
		args = append(args, prof.args(c.Service.Extensions)...)
	}
	logf, err := os.Create(filepath.Join(dir, "collector.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(binary, args...)
	if cpus != "" {
		cmd = exec.Command("taskset", append([]string{"-c", cpus, binary}, args...)...)
	}
	// The shipped configs read their exporter endpoint (gateway: backend,
	// sidecar: gateway) and the gateway's queue directory from the
	// environment; each config ignores the variables of the other.
	cmd.Env = append(os.Environ(),
		"OTELCOL_MESH_BACKEND_ENDPOINT="+s.addr, "OTELCOL_MESH_BACKEND_INSECURE=true",
		"OTELCOL_MESH_STORAGE_DIR="+filepath.Join(dir, "storage"),
		"OTELCOL_MESH_GATEWAY_ENDPOINT="+s.addr, "OTELCOL_MESH_GATEWAY_INSECURE=true")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	if err := waitHealthy(health, 30*time.Second); err != nil {
		out, _ := os.ReadFile(logf.Name())
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	cpu0, err := cpuTime(cmd.Process.Pid)
	if err != nil {
		return nil, err
	}

	r := &result{name: p.Name, interesting: map[pcommon.TraceID]int{}}
	sentAt, err := load(otlp, r)
	if err != nil {
		return nil, err
	}
	if prof != nil {
		if err := prof.saveHeap(); err != nil {
			return nil, err
		}
	}
	// Drain: until the collector has worked off its backlog (its CPU is idle)
	// and nothing arrived for longer than the slowest decision wait.
	cpu1, err := drain(s, cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	r.cpu = cpu1 - cpu0
	r.peakRSS, _ = peakRSS(cmd.Process.Pid)
	r.elapsed = duration
	r.exported, r.kept = s.result()
	for id, at := range s.firstArrival() {
		if sent, ok := sentAt[id]; ok {
			r.latencies = append(r.latencies, at.Sub(sent))
		}
	}
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	return r, nil
}

// benchTraffic is the bookinfo traffic every pipeline gets: one pod per
// workload, each proxy exporting its own spans.
func benchTraffic(seed uint64) meshgen.Options {
	return meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.02, FlagRate: 0.01, SlowRate: 0.01, CanaryShare: 0.05, Seed: seed, StablePods: true}
}

// tracesPerExport is how many traces a proxy batches into one export
// request (its spans of them, under its one resource).
const tracesPerExport = 50

// tracesPerTick is how many traces the load draws at a time.
const tracesPerTick = 10

// sendLoad offers bookinfo traces at rate for duration, each proxy exporting
// its spans of every 50 traces in one request (the rest when the load ends)
// on a connection of its own, as proxies do: one waiting for its
// acknowledgement does not hold up the others. It returns when the
// collector had each trace whole: the moment it acknowledged the last
// export carrying the trace's spans, the arrival of its last span, from
// which the decision latency counts.
func sendLoad(endpoint string, rate float64, duration time.Duration, r *result) (map[pcommon.TraceID]time.Time, error) {
	opts := benchTraffic(2026)
	g := meshgen.New(opts)
	var (
		mu      sync.Mutex // sentAt, r.sentSpans, sendErr
		sentAt  = map[pcommon.TraceID]time.Time{}
		sendErr error
		wg      sync.WaitGroup
		proxies = map[string]chan meshgen.Export{}
	)
	export := func(sender *meshgen.OTLPSender, e meshgen.Export) {
		err := send(sender, e.Traces)
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			sendErr = cmp.Or(sendErr, fmt.Errorf("export refused: %w", err))
			return
		}
		for _, id := range e.IDs {
			if now.After(sentAt[id]) {
				sentAt[id] = now
			}
		}
		r.sentSpans += e.Traces.SpanCount()
	}
	dispatch := func(exports []meshgen.Export) error {
		for _, e := range exports {
			q, ok := proxies[e.Pod]
			if !ok {
				sender, err := meshgen.NewOTLPSender(endpoint, meshgen.EnvoyUserAgent(opts))
				if err != nil {
					return err
				}
				q = make(chan meshgen.Export, 16)
				proxies[e.Pod] = q
				wg.Go(func() {
					defer sender.Close()
					for e := range q {
						export(sender, e)
					}
				})
			}
			q <- e
		}
		mu.Lock()
		defer mu.Unlock()
		return sendErr
	}
	err := func() error {
		batches := meshgen.NewProxyBatches(tracesPerExport)
		tick := time.NewTicker(time.Duration(float64(tracesPerTick) * float64(time.Second) / rate))
		defer tick.Stop()
		end := time.Now().Add(duration)
		for time.Now().Before(end) {
			<-tick.C
			for range tracesPerTick {
				t := g.Next()
				if t.Error || t.Failure || t.Slow || t.Canary {
					r.interesting[t.ID] = t.Traces.SpanCount()
				}
				if err := dispatch(batches.Add(t)); err != nil {
					return err
				}
			}
		}
		return dispatch(batches.Flush())
	}()
	for _, q := range proxies {
		close(q)
	}
	wg.Wait()
	return sentAt, cmp.Or(err, sendErr)
}

// send exports td and waits at most 10 s for the collector's
// acknowledgement.
func send(sender *meshgen.OTLPSender, td ptrace.Traces) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return sender.Send(ctx, td)
}

// shippedArgs runs the shipped config file with its listeners, health check
// and internal metrics moved to free loopback ports. Telemetry is the same as
// in the generated configs (metrics level none), so that no pipeline pays for
// internal metrics the others do not.
func shippedArgs(file, otlp, health string) []string {
	_, metricsPort, _ := strings.Cut(freeAddr(), ":")
	args := []string{"--config", file}
	for _, o := range []string{
		"receivers::otlp::protocols::grpc::endpoint: " + otlp,
		"receivers::otlp::protocols::http::endpoint: " + freeAddr(),
		"receivers::zipkin::endpoint: " + freeAddr(),
		"receivers::opencensus::endpoint: " + freeAddr(),
		"extensions::health_check::endpoint: " + health,
		"service::telemetry::metrics::readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: " + metricsPort + "}}}}]",
		"service::telemetry::metrics::level: none",
	} {
		args = append(args, "--config", "yaml:"+o)
	}
	return args
}

// configFile is what meshbench reads of a collector config file.
type configFile struct {
	Processors struct {
		Mesh struct {
			Sampling struct {
				SettleTime string `yaml:"settle_time"`
			}
		}
	}
	Service struct {
		Extensions []string
	}
}

func readConfig(file string) (configFile, error) {
	var c configFile
	b, err := os.ReadFile(file)
	if err != nil {
		return c, err
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", file, err)
	}
	return c, nil
}

// settleTime reads the mesh processor's sampling settle_time from a config.
func settleTime(file string) (time.Duration, error) {
	c, err := readConfig(file)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(c.Processors.Mesh.Sampling.SettleTime)
	if err != nil {
		return 0, fmt.Errorf("%s: processors::mesh::sampling::settle_time: %w", file, err)
	}
	return d, nil
}

func collectorConfig(p meshbench.Pipeline, otlp, health, sink string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: %s\n        include_metadata: true\nprocessors:\n", otlp)
	ids := []string{}
	for _, proc := range p.Processors {
		fmt.Fprintf(&b, "  %s:\n%s", proc.ID, indent(proc.Config, "    "))
		ids = append(ids, proc.ID)
	}
	b.WriteString("  batch:\n    send_batch_size: 8192\n    send_batch_max_size: 8192\n    timeout: 200ms\n")
	ids = append(ids, "batch")
	fmt.Fprintf(&b, "exporters:\n  otlp_grpc:\n    endpoint: %s\n    tls:\n      insecure: true\n", sink)
	fmt.Fprintf(&b, "extensions:\n  health_check:\n    endpoint: %s\n", health)
	fmt.Fprintf(&b, "service:\n  extensions: [health_check]\n  telemetry:\n    metrics:\n      level: none\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [%s]\n      exporters: [otlp_grpc]\n", strings.Join(ids, ", "))
	return b.String()
}

func indent(s, prefix string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.Trim(s, "\n"), "\n") {
		b.WriteString(prefix + line + "\n")
	}
	return b.String()
}

// drain waits until the collector's CPU time grows by less than 20 ms per
// second for 3 s in a row and the sink got nothing for 7 s (at most 3 min),
// and returns the collector's CPU time then.
func drain(s *sink, pid int) (time.Duration, error) {
	deadline := time.Now().Add(3 * time.Minute)
	prev, err := cpuTime(pid)
	if err != nil {
		return 0, err
	}
	quiet := 0
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		cur, err := cpuTime(pid)
		if err != nil {
			return 0, err
		}
		if cur-prev < 20*time.Millisecond {
			quiet++
		} else {
			quiet = 0
		}
		prev = cur
		if quiet >= 3 && s.idleFor() > 7*time.Second {
			return cur, nil
		}
	}
	return prev, nil
}
