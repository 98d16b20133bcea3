// Package sampling is the mesh tail sampler: it buffers spans by trace,
// decides per whole trace when the trace is complete in mesh terms (one span
// tree, every outbound client hop matched by its inbound server span) plus a
// settle time, or at a maximum wait, and keeps traces by mesh-aware rules with
// consistent (OTEP 235) probabilities written into every kept span's
// tracestate. Buffered spans are held as OTLP protobuf, bounded in bytes.
package sampling // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/sampling"

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/decisioncache"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadata"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"
)

// Attributes the sampler writes on kept spans.
const (
	AttrRule     = "mesh.sampling.rule"     // with Settings.RecordRule
	AttrComplete = "mesh.sampling.complete" // on the root span of a kept trace
)

// Forced-decision reasons.
const (
	reasonComplete  = "complete"
	reasonMaxWait   = "max_wait"
	reasonSpanLimit = "span_limit"
	reasonByteLimit = "byte_limit"
	reasonMemory    = "memory"
	reasonShutdown  = "shutdown"
)

// Settings configure the engine.
type Settings struct {
	SettleTime       time.Duration
	MaxWait          time.Duration
	MaxSpansPerTrace int
	MaxBytesPerTrace int
	MaxBufferedBytes int64
	Shards           int
	KeptCacheSize    int
	DroppedCacheSize int
	StressRelief     StressRelief
	// TracesPerSecond and SpansPerSecond cap what is kept (0: no cap);
	// errors and mesh failures are kept regardless but count against it.
	TracesPerSecond, SpansPerSecond float64
	RecordRule                      bool
	Rules                           Rules
	TickInterval                    time.Duration
}

// StressRelief: when buffered bytes reach Activate × MaxBufferedBytes, new
// traces are decided at once by trace id with Probability (no buffering),
// until they fall under Deactivate × MaxBufferedBytes and MinActive passed.
type StressRelief struct {
	Activate, Deactivate float64
	MinActive            time.Duration
	Probability          float64
}

// Clock lets tests drive time.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Engine is the sampler. Ingest may be called concurrently; traces are
// sharded by trace id, each shard with its own lock.
type Engine struct {
	set       Settings
	next      consumer.Traces
	clock     Clock
	logger    *zap.Logger
	tel       *metadata.TelemetryBuilder
	rules     *compiledRules
	attrKeys  map[string]bool
	resKeys   map[string]bool
	stressTh  threshold.Threshold
	shards    []*shard
	buffered  atomic.Int64 // bytes
	stressed  atomic.Bool
	stressAt  time.Time // owned by the tick goroutine
	limiter   limiter
	tick      chan chan struct{} // test hook: run one tick synchronously
	stop      chan struct{}
	stopOnce  sync.Once
	wg        sync.WaitGroup
	marshal   ptrace.ProtoMarshaler
	unmarshal ptrace.ProtoUnmarshaler
}

type shard struct {
	mu      sync.Mutex
	traces  map[pcommon.TraceID]*trace
	order   []pcommon.TraceID // arrival order, for memory evictions
	kept    *decisioncache.KeptCache
	dropped *decisioncache.DroppedSet
}

// New returns an engine that passes kept spans to next.
func New(set Settings, next consumer.Traces, tel *metadata.TelemetryBuilder, logger *zap.Logger, clock Clock) *Engine {
	if clock == nil {
		clock = systemClock{}
	}
	if set.Shards < 1 {
		set.Shards = 1
	}
	if set.TickInterval <= 0 {
		set.TickInterval = 100 * time.Millisecond
	}
	e := &Engine{
		set: set, next: next, clock: clock, logger: logger, tel: tel,
		rules:    compile(set.Rules, clock.Now()),
		attrKeys: map[string]bool{}, resKeys: map[string]bool{},
		stressTh: threshold.FromProbability(set.StressRelief.Probability),
		tick:     make(chan chan struct{}),
		stop:     make(chan struct{}),
	}
	for _, a := range set.Rules.Attributes {
		if a.Resource {
			e.resKeys[a.Key] = true
		} else {
			e.attrKeys[a.Key] = true
		}
	}
	e.limiter.init(set.TracesPerSecond, set.SpansPerSecond, set.MaxSpansPerTrace, clock.Now())
	e.shards = make([]*shard, set.Shards)
	perShardKept := max(set.KeptCacheSize/set.Shards, 1)
	perShardDropped := max(set.DroppedCacheSize/set.Shards, 16)
	for i := range e.shards {
		e.shards[i] = &shard{
			traces:  map[pcommon.TraceID]*trace{},
			kept:    decisioncache.NewKeptCache(perShardKept),
			dropped: decisioncache.NewDroppedSet(perShardDropped),
		}
	}
	return e
}

func (e *Engine) shardOf(id pcommon.TraceID) *shard {
	return e.shards[int(uint(id[15])|uint(id[14])<<8)%len(e.shards)]
}

// Start runs the decision loop; with a test clock, ticks come from Tick.
func (e *Engine) Start() {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		var tc <-chan time.Time
		if _, real := e.clock.(systemClock); real {
			t := time.NewTicker(e.set.TickInterval)
			defer t.Stop()
			tc = t.C
		}
		for {
			select {
			case <-e.stop:
				return
			case <-tc:
				e.runTick(context.Background())
			case done := <-e.tick:
				e.runTick(context.Background())
				close(done)
			}
		}
	}()
}

// Tick runs one decision round and waits for it (tests with a fake clock).
func (e *Engine) Tick() {
	done := make(chan struct{})
	e.tick <- done
	<-done
}

// Shutdown stops the loop and decides every buffered trace within ctx.
// It is safe to call more than once, and without Start.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.stopOnce.Do(func() { close(e.stop) })
	e.wg.Wait()
	// Deciding is CPU work only: every trace is decided, and the kept ones
	// are passed on while ctx allows.
	now := e.clock.Now()
	out := newOutput(ctx, e)
	for _, s := range e.shards {
		for more := true; more; {
			more = false
			s.mu.Lock()
			for id, t := range s.traces {
				e.decide(s, t, reasonShutdown, now, out.traces)
				delete(s.traces, id)
				if out.full() {
					more = true
					break
				}
			}
			s.mu.Unlock()
			out.flushIfFull()
		}
	}
	out.flush()
	return ctx.Err()
}

// output collects kept spans and passes them on in exports of at most
// maxExportSpans spans, so that a burst of decisions (memory pressure,
// shutdown) does not become one huge message.
type output struct {
	e      *Engine
	ctx    context.Context
	traces ptrace.Traces
}

const maxExportSpans = 8192

func newOutput(ctx context.Context, e *Engine) *output {
	return &output{e: e, ctx: ctx, traces: ptrace.NewTraces()}
}

func (o *output) full() bool { return o.traces.SpanCount() >= maxExportSpans }

func (o *output) flushIfFull() {
	if o.full() {
		o.flush()
	}
}

func (o *output) flush() {
	o.e.emit(o.ctx, o.traces)
	o.traces = ptrace.NewTraces()
}

// Ingest takes normalized spans: late spans of decided traces follow their
// decision at once, everything else is buffered.
func (e *Engine) Ingest(ctx context.Context, td ptrace.Traces) error {
	now := e.clock.Now()
	out := ptrace.NewTraces() // late spans of kept traces, stress-relief keeps, early decisions
	for _, rs := range td.ResourceSpans().All() {
		e.ingestResource(rs, now, out)
	}
	// A refusal here is not returned to the sender: the rest of its data is
	// buffered already, and a retry would buffer it twice. emit counts and
	// logs the loss.
	e.emit(ctx, out)
	return nil
}

// group is the spans of one trace within one ResourceSpans.
type group struct {
	id    pcommon.TraceID
	spans []spanRef
}

type spanRef struct{ scope, span int }

func (e *Engine) ingestResource(rs ptrace.ResourceSpans, now time.Time, out ptrace.Traces) {
	res := rs.Resource().Attributes()
	source := ""
	if v, ok := res.Get("service.name"); ok {
		source = v.Str()
	}
	var resMatch uint64
	for k := range e.resKeys {
		if v, ok := res.Get(k); ok {
			resMatch |= e.matchAttribute(k, v, true)
		}
	}
	// Group spans by trace: a resource usually holds one or a few traces,
	// searched in a slice; an index takes over for batches of many.
	var groups []group
	var index map[pcommon.TraceID]int
	for si, ss := range rs.ScopeSpans().All() {
		for pi, span := range ss.Spans().All() {
			id := span.TraceID()
			i := -1
			if index != nil {
				if j, ok := index[id]; ok {
					i = j
				}
			} else {
				for j := len(groups) - 1; j >= 0; j-- {
					if groups[j].id == id {
						i = j
						break
					}
				}
			}
			if i < 0 {
				groups = append(groups, group{id: id})
				i = len(groups) - 1
				if index != nil {
					index[id] = i
				} else if len(groups) > 16 {
					index = make(map[pcommon.TraceID]int, 64)
					for j, g := range groups {
						index[g.id] = j
					}
				}
			}
			groups[i].spans = append(groups[i].spans, spanRef{si, pi})
		}
	}
	for _, g := range groups {
		e.ingestTrace(g.id, extract(rs, g), source, resMatch, now, out)
	}
}

// extract builds a Traces with the resource, scopes and spans of one group.
func extract(rs ptrace.ResourceSpans, g group) ptrace.Traces {
	td := ptrace.NewTraces()
	nrs := td.ResourceSpans().AppendEmpty()
	rs.Resource().CopyTo(nrs.Resource())
	nrs.SetSchemaUrl(rs.SchemaUrl())
	lastScope := -1
	var spans ptrace.SpanSlice
	for _, ref := range g.spans {
		if ref.scope != lastScope {
			ss := rs.ScopeSpans().At(ref.scope)
			nss := nrs.ScopeSpans().AppendEmpty()
			ss.Scope().CopyTo(nss.Scope())
			nss.SetSchemaUrl(ss.SchemaUrl())
			spans, lastScope = nss.Spans(), ref.scope
		}
		rs.ScopeSpans().At(ref.scope).Spans().At(ref.span).MoveTo(spans.AppendEmpty())
	}
	return td
}

func (e *Engine) ingestTrace(id pcommon.TraceID, chunk ptrace.Traces, source string, resMatch uint64, now time.Time, out ptrace.Traces) {
	ctx := context.Background()
	s := e.shardOf(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, buffered := s.traces[id]
	if !buffered {
		if k, ok := s.kept.Get(id); ok {
			n := chunk.SpanCount()
			e.markKept(chunk, threshold.Threshold(k.Threshold), k.Rule, 0, false)
			chunk.ResourceSpans().MoveAndAppendTo(out.ResourceSpans())
			e.tel.ProcessorMeshSamplingLateSpans.Add(ctx, int64(n), metric.WithAttributeSet(lateKept))
			return
		}
		if s.dropped.Contains(id) {
			e.tel.ProcessorMeshSamplingLateSpans.Add(ctx, int64(chunk.SpanCount()), metric.WithAttributeSet(lateDropped))
			return
		}
		if e.stressed.Load() {
			e.decideUnbuffered(s, id, chunk, out)
			return
		}
	}
	b, err := e.marshal.MarshalTraces(chunk)
	if err != nil { // valid pdata always marshals; should it not, count the loss
		e.tel.ProcessorMeshSamplingRefusedSpans.Add(ctx, int64(chunk.SpanCount()))
		e.logger.Error("cannot buffer spans", zap.Error(err))
		return
	}
	before := 0
	if buffered {
		before = t.bytes + t.memoryOverhead()
	} else {
		t = &trace{id: id, first: now.UnixNano(), upstream: threshold.Always}
		s.traces[id] = t
		s.order = append(s.order, id)
		e.tel.ProcessorMeshSamplingTracesBuffered.Add(ctx, 1)
	}
	for _, rs := range chunk.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				e.observe(t, span, source, resMatch)
			}
		}
	}
	t.chunks = append(t.chunks, b)
	t.bytes += len(b)
	t.spans += chunk.SpanCount()
	t.last = now.UnixNano()
	delta := int64(t.bytes + t.memoryOverhead() - before)
	e.buffered.Add(delta)
	e.tel.ProcessorMeshSamplingBytesBuffered.Add(ctx, delta)
	t.complete = t.checkComplete()

	switch {
	case e.set.MaxSpansPerTrace > 0 && t.spans >= e.set.MaxSpansPerTrace:
		e.decide(s, t, reasonSpanLimit, now, out)
		delete(s.traces, id)
	case e.set.MaxBytesPerTrace > 0 && t.bytes >= e.set.MaxBytesPerTrace:
		e.decide(s, t, reasonByteLimit, now, out)
		delete(s.traces, id)
	}
}

// decideUnbuffered is stress relief: keep or drop a new trace by its trace
// id alone, without buffering or rules.
func (e *Engine) decideUnbuffered(s *shard, id pcommon.TraceID, chunk ptrace.Traces, out ptrace.Traces) {
	var r uint64
	var up threshold.Threshold
	first := true
	for _, rs := range chunk.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				ts := span.TraceState().AsRaw()
				if first { // as for buffered traces: the first span's rv, else the trace id
					r, first = threshold.Randomness(id, ts), false
				}
				if u, ok := threshold.Upstream(ts); ok && u > up {
					up = u
				}
			}
		}
	}
	th := max(e.stressTh, up)
	keep := th.Keeps(r)
	attrs := metric.WithAttributeSet(decisionAttrs(RuleStressRelief, keep))
	e.tel.ProcessorMeshSamplingDecisions.Add(context.Background(), 1, attrs)
	if !keep {
		s.dropped.Add(id)
		return
	}
	s.kept.Put(id, decisioncache.Kept{Threshold: uint64(th), Rule: RuleStressRelief})
	e.markKept(chunk, th, RuleStressRelief, 0, false)
	chunk.ResourceSpans().MoveAndAppendTo(out.ResourceSpans())
}

// decide applies the rules to a buffered trace (the caller holds the shard
// lock and removes the trace), records the decision, and appends kept spans
// to out.
func (e *Engine) decide(s *shard, t *trace, reason string, now time.Time, out ptrace.Traces) {
	ctx := context.Background()
	th, rule := e.rules.evaluate(t, now)
	// The recorded threshold may only rise above an upstream one; the trace
	// is kept when its randomness passes what is recorded.
	final := max(th, t.upstream)
	keep := th != threshold.Never && final.Keeps(t.randomness)
	protected := t.err || t.failure || t.retry
	if keep && !e.limiter.allow(protected, t.spans, now) {
		keep, rule = false, "rate_limit"
	}
	e.tel.ProcessorMeshSamplingDecisions.Add(ctx, 1, metric.WithAttributeSet(decisionAttrs(rule, keep)))
	if reason != reasonComplete {
		e.tel.ProcessorMeshSamplingForcedDecisions.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason))))
	}
	e.tel.ProcessorMeshSamplingDecisionLatency.Record(ctx, float64(now.UnixNano()-t.last)/1e6)
	size := int64(t.bytes + t.memoryOverhead())
	e.buffered.Add(-size)
	e.tel.ProcessorMeshSamplingBytesBuffered.Add(ctx, -size)
	e.tel.ProcessorMeshSamplingTracesBuffered.Add(ctx, -1)
	if !keep {
		s.dropped.Add(t.id)
		return
	}
	s.kept.Put(t.id, decisioncache.Kept{Threshold: uint64(final), Rule: rule})
	if e.rules.coverage != nil {
		e.rules.coverage.record(t.edges, now)
	}
	root := t.rootSpanID()
	for _, b := range t.chunks {
		td, err := e.unmarshal.UnmarshalTraces(b)
		if err != nil { // we marshaled it: cannot happen, but never panic
			e.logger.Error("buffered chunk does not decode", zap.Error(err))
			continue
		}
		e.markKept(td, final, rule, root, t.complete)
		td.ResourceSpans().MoveAndAppendTo(out.ResourceSpans())
	}
}

// markKept writes the threshold into every span's tracestate, the rule when
// configured, and the completeness flag on the root span.
func (e *Engine) markKept(td ptrace.Traces, th threshold.Threshold, rule string, root uint64, complete bool) {
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				ts := span.TraceState()
				ts.FromRaw(threshold.WithThreshold(ts.AsRaw(), threshold.Compose(th, ts.AsRaw())))
				if e.set.RecordRule {
					span.Attributes().PutStr(AttrRule, rule)
				}
				if root != 0 && spanKey(span.SpanID()) == root {
					span.Attributes().PutBool(AttrComplete, complete)
				}
			}
		}
	}
}

// runTick decides due traces, relieves memory pressure and updates the
// stress-relief state, then emits what was kept.
func (e *Engine) runTick(ctx context.Context) {
	now := e.clock.Now()
	nowNs := now.UnixNano()
	settle, maxWait := int64(e.set.SettleTime), int64(e.set.MaxWait)
	out := newOutput(ctx, e)
	for _, s := range e.shards {
		// Pass kept spans on outside the shard lock, in bounded exports: a
		// full output ends the round over the shard, and it starts again.
		for more := true; more; {
			more = false
			s.mu.Lock()
			for id, t := range s.traces {
				switch {
				case t.complete && nowNs-t.last >= settle:
					e.decide(s, t, reasonComplete, now, out.traces)
				case nowNs-t.first >= maxWait:
					e.decide(s, t, reasonMaxWait, now, out.traces)
				default:
					continue
				}
				delete(s.traces, id)
				if out.full() {
					more = true
					break
				}
			}
			s.compactOrder()
			s.mu.Unlock()
			out.flushIfFull()
		}
	}
	// Pressure is measured before it is relieved.
	e.updateStress(now)
	// Over the byte budget: decide the oldest traces on what they have.
	for i := 0; e.buffered.Load() > e.set.MaxBufferedBytes; i++ {
		if !e.evictOldest(e.shards[i%len(e.shards)], now, out.traces) && i >= len(e.shards) && e.empty() {
			break
		}
		out.flushIfFull()
	}
	out.flush()
}

func (e *Engine) empty() bool {
	for _, s := range e.shards {
		s.mu.Lock()
		n := len(s.traces)
		s.mu.Unlock()
		if n > 0 {
			return false
		}
	}
	return true
}

func (e *Engine) evictOldest(s *shard, now time.Time, out ptrace.Traces) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.order) > 0 {
		id := s.order[0]
		s.order = s.order[1:]
		if t, ok := s.traces[id]; ok {
			e.decide(s, t, reasonMemory, now, out)
			delete(s.traces, id)
			return true
		}
	}
	return false
}

func (e *Engine) updateStress(now time.Time) {
	if e.set.MaxBufferedBytes <= 0 || e.set.StressRelief.Activate <= 0 {
		return
	}
	fill := float64(e.buffered.Load()) / float64(e.set.MaxBufferedBytes)
	switch on := e.stressed.Load(); {
	case !on && fill >= e.set.StressRelief.Activate:
		e.stressed.Store(true)
		e.stressAt = now
		e.tel.ProcessorMeshSamplingStressRelief.Add(context.Background(), 1)
		e.logger.Warn("sampling stress relief on: new traces are sampled by trace id without buffering",
			zap.Float64("buffer_fill", fill), zap.String("threshold", e.stressTh.String()))
	case on && fill <= e.set.StressRelief.Deactivate && now.Sub(e.stressAt) >= e.set.StressRelief.MinActive:
		e.stressed.Store(false)
		e.tel.ProcessorMeshSamplingStressRelief.Add(context.Background(), -1)
		e.logger.Info("sampling stress relief off", zap.Float64("buffer_fill", fill))
	}
}

// compactOrder drops decided traces from a shard's arrival-order queue once
// they outnumber the buffered ones (the caller holds the lock).
func (s *shard) compactOrder() {
	if len(s.order) <= 2*len(s.traces)+1024 {
		return
	}
	kept := make([]pcommon.TraceID, 0, 2*len(s.traces)+16)
	for _, id := range s.order {
		if _, ok := s.traces[id]; ok {
			kept = append(kept, id)
		}
	}
	s.order = kept
}

func (e *Engine) emit(ctx context.Context, out ptrace.Traces) {
	n := out.SpanCount()
	if n == 0 {
		return
	}
	if err := e.next.ConsumeTraces(ctx, out); err != nil {
		e.tel.ProcessorMeshSamplingRefusedSpans.Add(ctx, int64(n))
		e.logger.Warn("next consumer refused kept spans", zap.Int("spans", n), zap.Error(err))
	}
}

// Stressed reports whether stress relief is active.
func (e *Engine) Stressed() bool { return e.stressed.Load() }

// BufferedBytes is what the buffered traces hold.
func (e *Engine) BufferedBytes() int64 { return e.buffered.Load() }

var (
	lateKept    = attribute.NewSet(attribute.String("source", "kept_cache"), attribute.String("outcome", "kept"))
	lateDropped = attribute.NewSet(attribute.String("source", "dropped_cache"), attribute.String("outcome", "dropped"))
)

func decisionAttrs(rule string, keep bool) attribute.Set {
	outcome := "dropped"
	if keep {
		outcome = "kept"
	}
	return attribute.NewSet(attribute.String("rule", rule), attribute.String("outcome", outcome))
}

// QueuedIDs is the length of the arrival-order queues (for tests).
func (e *Engine) QueuedIDs() int {
	n := 0
	for _, s := range e.shards {
		s.mu.Lock()
		n += len(s.order)
		s.mu.Unlock()
	}
	return n
}
