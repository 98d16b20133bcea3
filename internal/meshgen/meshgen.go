// Package meshgen generates whole mesh traces the way Envoy, Istio and Linkerd
// proxies emit them (string tags, node ids, cluster names, raw-path names,
// per-proxy resources), with injected errors, proxy failures, slow hops and
// canary traffic. It drives the end-to-end tests, `make demo` and benchmarks.
package meshgen // import "github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Mesh names a traffic shape.
type Mesh string

const (
	Istio   Mesh = "istio"   // bookinfo behind an ingress gateway, sidecars
	Linkerd Mesh = "linkerd" // emojivoto, four proxy spans per meshed hop
	Envoy   Mesh = "envoy"   // a front Envoy and a service Envoy, no mesh
)

// Options shape the generated traffic. Rates are fractions of traces in [0, 1].
type Options struct {
	Mesh Mesh
	// ErrorRate: the deepest service answers 500.
	ErrorRate float64
	// FlagRate: the deepest hop fails in the proxy (Envoy UF or UH, no server
	// span); Linkerd traces get a 502 instead, as Linkerd has no flags.
	FlagRate float64
	// SlowRate: the deepest hop takes SlowBy longer.
	SlowRate float64
	SlowBy   time.Duration
	// CanaryShare: requests carrying x-canary and routed to the canary
	// (Istio reviews v3, Linkerd voting-canary).
	CanaryShare float64
	// IstioRelease and IstioSHA set the proxy build (telemetry.sdk.version).
	IstioRelease, IstioSHA string
	// LinkerdSchema is 217, 218 or 219: the proxy's tag schema.
	LinkerdSchema int
	// Seed makes the traffic reproducible.
	Seed uint64
	// StablePods keeps one pod per workload for the generator's life, as a
	// running cluster has (ProxyBatches then batches each proxy's spans as
	// the proxy does), instead of new pods in every trace.
	StablePods bool
}

// Trace is one generated trace and what was injected into it.
type Trace struct {
	Traces  ptrace.Traces
	ID      pcommon.TraceID
	Error   bool // a 500 from the application
	Failure bool // a proxy failure (UF/UH flags, or 502 on Linkerd)
	Slow    bool
	Canary  bool
	// Pods names the pod (proxy) of each ResourceSpans, in order.
	Pods []string
}

// Generator produces traces; it is not safe for concurrent use.
type Generator struct {
	opts Options
	rnd  *rand.Rand
	now  func() time.Time
	// The pods of each workload, with StablePods.
	istioPods   map[string]istioPod
	linkerdPods map[string]linkerdPod
}

// New returns a generator. Defaults: Istio 1.25.0, Linkerd schema 219, slow by 1.5s.
func New(opts Options) *Generator {
	if opts.Mesh == "" {
		opts.Mesh = Istio
	}
	if opts.IstioRelease == "" {
		opts.IstioRelease, opts.IstioSHA = "1.25.0", "4382ac5fc1d362094bbba33283dbe60a3e1cef88"
	}
	if opts.LinkerdSchema == 0 {
		opts.LinkerdSchema = 219
	}
	if opts.SlowBy == 0 {
		opts.SlowBy = 1500 * time.Millisecond
	}
	return &Generator{opts: opts, rnd: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)), now: time.Now,
		istioPods: map[string]istioPod{}, linkerdPods: map[string]linkerdPod{}}
}

// Next generates one whole trace.
func (g *Generator) Next() Trace {
	t := Trace{
		Error:  g.rnd.Float64() < g.opts.ErrorRate,
		Slow:   g.rnd.Float64() < g.opts.SlowRate,
		Canary: g.rnd.Float64() < g.opts.CanaryShare,
	}
	t.Failure = !t.Error && g.rnd.Float64() < g.opts.FlagRate
	b := &builder{g: g, tr: &t, td: ptrace.NewTraces()}
	binary.BigEndian.PutUint64(t.ID[:8], g.rnd.Uint64())
	binary.BigEndian.PutUint64(t.ID[8:], g.rnd.Uint64()|1) // never the invalid all-zero id
	start := g.now().Add(-3 * time.Second)
	switch g.opts.Mesh {
	case Linkerd:
		b.emojivoto(start)
	case Envoy:
		b.frontEnvoy(start)
	default:
		b.bookinfo(start)
	}
	t.Traces = b.td
	return t
}

// stablePod returns the pod of a workload: with StablePods the one made
// first, else a new one every time.
func stablePod[P any](g *Generator, pods map[string]P, workload string, newPod func() P) P {
	if p, ok := pods[workload]; ok {
		return p
	}
	p := newPod()
	if g.opts.StablePods {
		pods[workload] = p
	}
	return p
}

// builder assembles one trace: one ResourceSpans per proxy.
type builder struct {
	g         *Generator
	tr        *Trace
	td        ptrace.Traces
	resources map[string]ptrace.SpanSlice
}

func (b *builder) spanID() pcommon.SpanID {
	var id pcommon.SpanID
	binary.LittleEndian.PutUint64(id[:], b.g.rnd.Uint64()|1)
	return id
}

// proxy returns the span slice of the proxy (pod) named key, creating its
// resource with attrs on first use.
func (b *builder) proxy(key string, attrs map[string]any, scopeName, scopeVersion string) ptrace.SpanSlice {
	if b.resources == nil {
		b.resources = map[string]ptrace.SpanSlice{}
	}
	if s, ok := b.resources[key]; ok {
		return s
	}
	rs := b.td.ResourceSpans().AppendEmpty()
	b.tr.Pods = append(b.tr.Pods, key)
	if err := rs.Resource().Attributes().FromRaw(attrs); err != nil {
		panic(fmt.Sprintf("meshgen: resource %s: %v", key, err)) // static attributes: a programming error
	}
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(scopeName)
	ss.Scope().SetVersion(scopeVersion)
	b.resources[key] = ss.Spans()
	return ss.Spans()
}

// span appends a span with string tags, as proxies write them.
func (b *builder) span(to ptrace.SpanSlice, parent pcommon.SpanID, name string, kind ptrace.SpanKind, start time.Time, d time.Duration, tags map[string]string) pcommon.SpanID {
	s := to.AppendEmpty()
	s.SetTraceID(b.tr.ID)
	id := b.spanID()
	s.SetSpanID(id)
	s.SetParentSpanID(parent)
	s.SetName(name)
	s.SetKind(kind)
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(d)))
	attrs := s.Attributes()
	attrs.EnsureCapacity(len(tags))
	for k, v := range tags {
		attrs.PutStr(k, v)
	}
	return id
}

func (b *builder) ip() string {
	return fmt.Sprintf("10.244.%d.%d", b.g.rnd.IntN(4), 2+b.g.rnd.IntN(250))
}

func (b *builder) requestID() string {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], b.g.rnd.Uint64())
	binary.BigEndian.PutUint64(u[8:], b.g.rnd.Uint64())
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
