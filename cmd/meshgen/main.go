// Command meshgen sends realistic service-mesh traces (Istio bookinfo, Linkerd
// emojivoto, plain Envoy) to a collector over OTLP/gRPC, Zipkin or (Linkerd
// ≤2.17) the OpenCensus agent protocol, and summarizes what a collector's file
// exporter wrote.
//
//	meshgen -endpoint localhost:4317 -mesh istio -rate 50 -duration 5s
//	meshgen -mesh linkerd -linkerd-schema 217 -protocol opencensus
//	meshgen summarize traces.json
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "summarize" {
		if len(os.Args) != 3 {
			fmt.Fprintln(os.Stderr, "usage: meshgen summarize <file exporter output>")
			os.Exit(2)
		}
		if err := summarize(os.Stdout, os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "meshgen:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "meshgen:", err)
		os.Exit(1)
	}
}

// defaultEndpoints are the collector's default local addresses per protocol.
var defaultEndpoints = map[string]string{
	"otlp":       "localhost:4317",
	"zipkin":     "localhost:9411",
	"opencensus": "localhost:55678",
}

func run() error {
	var (
		o        meshgen.Options
		mesh     string
		endpoint = flag.String("endpoint", "", "collector address (host:port); default localhost:4317 for otlp, localhost:9411 for zipkin\n(posted to http://<endpoint>/api/v2/spans), localhost:55678 for opencensus")
		protocol = flag.String("protocol", "otlp", "otlp (gRPC), zipkin (v2 JSON over HTTP) or opencensus (agent gRPC stream, one Node per pod,\nas Linkerd ≤2.17 proxies send it: only with -mesh linkerd -linkerd-schema 217)")
		rate     = flag.Float64("rate", 20, "traces per second (0: as fast as possible)")
		duration = flag.Duration("duration", 5*time.Second, "how long to send (0: until -traces or interrupted)")
		count    = flag.Int("traces", 0, "stop after this many traces (0: no limit)")
		batch    = flag.Int("batch", 1, "traces per export request")
	)
	flag.StringVar(&mesh, "mesh", "istio", "traffic shape: istio, linkerd or envoy")
	flag.Float64Var(&o.ErrorRate, "error-rate", 0.02, "fraction of traces whose deepest service answers 500")
	flag.Float64Var(&o.FlagRate, "flag-rate", 0.01, "fraction of traces whose deepest hop fails in the proxy (UF/UH)")
	flag.Float64Var(&o.SlowRate, "slow-rate", 0.01, "fraction of traces with a slow deepest hop")
	flag.DurationVar(&o.SlowBy, "slow-by", 1500*time.Millisecond, "extra latency of a slow hop")
	flag.Float64Var(&o.CanaryShare, "canary-share", 0.1, "fraction of requests routed to the canary (x-canary header)")
	flag.StringVar(&o.IstioRelease, "istio-release", "1.25.0", "Istio release of the proxies")
	flag.StringVar(&o.IstioSHA, "istio-sha", "4382ac5fc1d362094bbba33283dbe60a3e1cef88", "istio/proxy SHA of that release")
	flag.IntVar(&o.LinkerdSchema, "linkerd-schema", 219, "Linkerd tag schema: 217 (Linkerd ≤2.17: http.method, http.path …), 218 or 219 (semconv)")
	flag.Uint64Var(&o.Seed, "seed", uint64(time.Now().UnixNano()), "random seed")
	flag.Parse()
	o.Mesh = meshgen.Mesh(mesh)
	switch o.Mesh {
	case meshgen.Istio, meshgen.Linkerd, meshgen.Envoy:
	default:
		return fmt.Errorf("-mesh %q: want istio, linkerd or envoy", mesh)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	if *endpoint == "" {
		*endpoint = defaultEndpoints[*protocol]
	}
	s, err := meshgen.NewSender(*protocol, *endpoint, o)
	if err != nil {
		return err
	}
	st, err := meshgen.Run(ctx, meshgen.New(o), s, *rate, *count, *batch)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	fmt.Printf("meshgen: sent %d traces (%d spans) over %s to %s: %d with errors, %d proxy failures, %d slow, %d canary; %d failed exports\n",
		st.Traces, st.Spans, *protocol, *endpoint, st.Errors, st.Failures, st.Slow, st.Canary, st.SendErrors)
	return err
}
