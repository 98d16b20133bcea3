// Package sampling is the mesh tail sampler: it buffers spans by trace,
// decides per whole trace when the trace is complete in mesh terms (one span
// tree, every outbound client hop matched by its inbound server span) plus a
// settle time, or at a maximum wait, and keeps traces by mesh-aware rules with
// consistent (OTEP 235) probabilities written into every kept span's
// tracestate. Buffered spans are held as OTLP protobuf, bounded in bytes.
package sampling // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/sampling"

import (
	"context"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/xpdata/entity"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/decisioncache"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadata"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"
)

// Attributes the sampler writes on kept spans.
const (
	AttrRule     = "mesh.sampling.rule"     // with Config.RecordRule
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

// engineSettings are the engine's settings, translated from Config.
type engineSettings struct {
	SettleTime       time.Duration
	MaxWait          time.Duration
	MaxSpansPerTrace int
	MaxBytesPerTrace int
	MaxBufferedBytes int64
	Shards           int
	KeptCacheSize    int
	DroppedCacheSize int
	StressRelief     stressReliefSettings
	// TracesPerSecond and SpansPerSecond cap what is kept (0: no cap);
	// errors and mesh failures are kept regardless but count against it.
	TracesPerSecond, SpansPerSecond float64
	RecordRule                      bool
	Rules                           ruleSettings
	TickInterval                    time.Duration
}

// stressReliefSettings: when buffered bytes reach Activate ×
// MaxBufferedBytes, new traces are decided at once by trace id with
// Probability (no buffering), until they fall under Deactivate ×
// MaxBufferedBytes and MinActive passed.
type stressReliefSettings struct {
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
	set       engineSettings
	next      consumer.Traces
	finish    func(ptrace.Traces) // see New
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
	stressMu  sync.Mutex // orders stress changes from ingest and the tick
	stressAt  time.Time  // under stressMu
	evictNext atomic.Uint64
	closed    atomic.Bool // set by Shutdown: traces are decided as they arrive
	limiter   limiter
	tick      chan chan struct{} // test hook: run one tick synchronously
	stop      chan struct{}
	stopOnce  sync.Once
	lastSweep time.Time // of buffered traces for max_wait (tick goroutine only)
	wg        sync.WaitGroup
	marshal   ptrace.ProtoMarshaler
	unmarshal ptrace.ProtoUnmarshaler
}

type shard struct {
	mu      sync.Mutex
	traces  map[pcommon.TraceID]*trace
	order   []pcommon.TraceID // arrival order, for memory evictions
	due     dueIndex          // complete traces by the time they settle
	kept    *decisioncache.KeptCache
	dropped *decisioncache.DroppedSet
}

// New returns an engine configured by cfg (validated) that passes kept spans
// to next, through finish when it is not nil: spans are ingested with only
// what the rules read written on them (normalize.DecisionAttributes), and
// finish writes the rest on the few that are kept.
func New(cfg Config, next consumer.Traces, finish func(ptrace.Traces), tel *metadata.TelemetryBuilder, logger *zap.Logger, clock Clock) *Engine {
	e := newEngine(cfg.settings(), next, tel, logger, clock)
	e.finish = finish
	return e
}

// newEngine is New with the settings as the engine uses them (tests set the
// tick interval here).
func newEngine(set engineSettings, next consumer.Traces, tel *metadata.TelemetryBuilder, logger *zap.Logger, clock Clock) *Engine {
	if clock == nil {
		clock = systemClock{}
	}
	if set.Shards < 1 {
		set.Shards = 1
	}
	if set.MaxSpansPerTrace <= 0 {
		set.MaxSpansPerTrace = math.MaxInt
	}
	if set.MaxBytesPerTrace <= 0 {
		set.MaxBytesPerTrace = math.MaxInt
	}
	if set.TickInterval <= 0 {
		// A settled trace is decided at the first tick after it settles:
		// short ticks cost little, as a tick looks only at the traces due
		// (due.go). 10 ms instead of 20: p99 decision latency 1.10-1.12 s
		// -> 1.07-1.09 s, same CPU; 5 ms gave no better p99.
		set.TickInterval = 10 * time.Millisecond
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
	e.limiter.init(set.TracesPerSecond, set.SpansPerSecond, clock.Now())
	e.shards = make([]*shard, set.Shards)
	perShardKept := max(set.KeptCacheSize/set.Shards, 1)
	perShardDropped := max(set.DroppedCacheSize/set.Shards, 16)
	for i := range e.shards {
		e.shards[i] = &shard{
			traces:  map[pcommon.TraceID]*trace{},
			due:     newDueIndex(int64(set.TickInterval)),
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

// Shutdown stops the loop and decides every buffered trace; spans that
// arrive from now on are decided as they come. It waits for the loop only
// while ctx allows (the loop may be blocked passing spans on), and passes
// kept spans on while ctx allows: those it cannot are counted as dropped.
// It is safe to call more than once, and without Start.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.closed.Store(true)
	e.stopOnce.Do(func() { close(e.stop) })
	stopped := make(chan struct{})
	go func() { e.wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
	}
	// Deciding is CPU work only: every trace is decided under its shard's
	// lock, so a tick still running cannot decide it twice.
	now := e.clock.Now()
	out := newOutput(ctx, e)
	for _, s := range e.shards {
		for more := true; more; {
			more = false
			s.mu.Lock()
			for id, t := range s.traces {
				e.decide(s, t, reasonShutdown, now, out)
				delete(s.traces, id)
				if out.full() {
					more = true
					break
				}
			}
			s.order = s.order[:0]
			s.mu.Unlock()
			out.flushIfFull()
		}
	}
	out.flush()
	return ctx.Err()
}

// output collects kept spans and passes them on in exports of at most
// maxExportSpans spans or about maxExportBytes, so that a burst of decisions
// (memory pressure, shutdown) does not become one message larger than a
// backend takes.
type output struct {
	e      *Engine
	ctx    context.Context
	traces ptrace.Traces
	bytes  int
	// byResource is the ResourceSpans in traces of each shared resource,
	// by fingerprint: the kept chunks of a proxy's requests go out under
	// one copy of its resource, not one copy per chunk.
	byResource map[uint64][]merged
}

type merged struct {
	shared *sharedResource
	rs     ptrace.ResourceSpans
}

const (
	maxExportSpans = 8192
	maxExportBytes = 2 << 20
)

func newOutput(ctx context.Context, e *Engine) *output {
	return &output{e: e, ctx: ctx, traces: ptrace.NewTraces()}
}

// add moves td, of about size protobuf bytes, into the output. With shared
// set, td is a chunk buffered without its resource (one ResourceSpans,
// resource empty): its scopes join those of the resource's other chunks.
func (o *output) add(td ptrace.Traces, shared *sharedResource, size int) {
	if shared == nil {
		td.ResourceSpans().MoveAndAppendTo(o.traces.ResourceSpans())
	} else {
		size += o.merge(td.ResourceSpans().At(0), shared)
	}
	if o.e.finish != nil {
		// Finishing normalizing grows an Envoy span by about a third (1 422
		// B of OTLP as buffered, 1 892 B after: BenchmarkBufferedBytesPerSpan).
		size += size / 3
	}
	o.bytes += size
}

// merge moves the scopes of chunk into the output's ResourceSpans for
// shared, made on first use, and returns the bytes that added besides the
// chunk's: the resource's, once.
func (o *output) merge(chunk ptrace.ResourceSpans, shared *sharedResource) int {
	added := 0
	var rs ptrace.ResourceSpans
	found := false
	for _, m := range o.byResource[shared.fingerprint] {
		if m.shared.sameAs(shared) && m.rs.SchemaUrl() == chunk.SchemaUrl() {
			rs, found = m.rs, true
			break
		}
	}
	if !found {
		if o.byResource == nil {
			o.byResource = map[uint64][]merged{}
		}
		rs = o.traces.ResourceSpans().AppendEmpty()
		shared.res.CopyTo(rs.Resource())
		rs.SetSchemaUrl(chunk.SchemaUrl()) // the request's, as for every chunk of it
		o.byResource[shared.fingerprint] = append(o.byResource[shared.fingerprint], merged{shared, rs})
		added = shared.size
	}
	for _, ss := range chunk.ScopeSpans().All() {
		if into, ok := sameScope(rs.ScopeSpans(), ss); ok {
			ss.Spans().MoveAndAppendTo(into.Spans())
		} else {
			ss.MoveTo(rs.ScopeSpans().AppendEmpty())
		}
	}
	return added
}

// sameScope finds in scopes one with the scope and schema of ss. Scopes
// with attributes are never merged: comparing them costs more than the
// bytes they would save.
func sameScope(scopes ptrace.ScopeSpansSlice, ss ptrace.ScopeSpans) (ptrace.ScopeSpans, bool) {
	sc := ss.Scope()
	if sc.Attributes().Len() > 0 {
		return ptrace.ScopeSpans{}, false
	}
	for i := scopes.Len() - 1; i >= 0; i-- {
		c := scopes.At(i)
		cs := c.Scope()
		if cs.Name() == sc.Name() && cs.Version() == sc.Version() && c.SchemaUrl() == ss.SchemaUrl() &&
			cs.DroppedAttributesCount() == sc.DroppedAttributesCount() && cs.Attributes().Len() == 0 {
			return c, true
		}
	}
	return ptrace.ScopeSpans{}, false
}

func (o *output) full() bool {
	return o.traces.SpanCount() >= maxExportSpans || o.bytes >= maxExportBytes
}

func (o *output) flushIfFull() {
	if o.full() {
		o.flush()
	}
}

func (o *output) flush() {
	if o.e.finish != nil && o.traces.ResourceSpans().Len() > 0 {
		o.e.finish(o.traces) // outside the shard locks
	}
	o.e.emit(o.ctx, o.traces)
	o.traces = ptrace.NewTraces()
	o.bytes = 0
	clear(o.byResource)
}

// Ingest takes normalized spans (or, with finish, spans with what the rules
// read written on them): late spans of decided traces follow their
// decision at once, everything else is buffered.
func (e *Engine) Ingest(ctx context.Context, td ptrace.Traces) error {
	now := e.clock.Now()
	// Late spans of kept traces, stress-relief keeps, early decisions. They
	// are passed on even when the sender has gone: its spans were accepted.
	out := newOutput(context.WithoutCancel(ctx), e)
	for _, rs := range td.ResourceSpans().All() {
		e.ingestResource(rs, now, out)
	}
	// The byte bound holds here too, not only on the tick: while the tick
	// is blocked passing spans on, ingest must not buffer without limit.
	e.relieve(now, out)
	// A refusal here is not returned to the sender: the rest of its data is
	// buffered already, and a retry would buffer it twice. emit counts and
	// logs the loss.
	out.flush()
	return nil
}

// group is the spans of one trace within one ResourceSpans.
type group struct {
	id    pcommon.TraceID
	spans []spanRef
}

type spanRef struct{ scope, span int }

func (e *Engine) ingestResource(rs ptrace.ResourceSpans, now time.Time, out *output) {
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
	if len(groups) == 1 { // one trace: the resource moves whole, uncopied
		chunk := ptrace.NewTraces()
		rs.MoveTo(chunk.ResourceSpans().AppendEmpty())
		e.ingestTrace(groups[0].id, chunk, nil, source, resMatch, now, out)
		out.flushIfFull()
		return
	}
	// A proxy's request holds its spans of many traces under one resource:
	// their chunks are buffered without it, and share one copy.
	shared := newSharedResource(rs.Resource(), &e.marshal)
	for _, g := range groups {
		e.ingestTrace(g.id, extract(rs, g), shared, source, resMatch, now, out)
		out.flushIfFull() // outside the shard lock
	}
}

// sharedResource is the resource of the chunks of one request's traces,
// held once for all of them while they are buffered. It is never written
// after it is made, so decisions in any goroutine may copy it.
type sharedResource struct {
	res  pcommon.Resource
	size int          // its share of the buffered bytes, counted while refs > 0
	refs atomic.Int64 // buffered chunks that use it
	// fingerprint hashes its attributes in any order: the requests of one
	// pod carry the same resource, and their kept chunks go out under one
	// copy of it.
	fingerprint uint64
}

func newSharedResource(res pcommon.Resource, m *ptrace.ProtoMarshaler) *sharedResource {
	td := ptrace.NewTraces()
	r := td.ResourceSpans().AppendEmpty().Resource()
	res.CopyTo(r)
	return &sharedResource{res: r, size: m.TracesSize(td), fingerprint: fingerprint(r.Attributes())}
}

var fingerprintSeed = maphash.MakeSeed()

// fingerprint sums a hash of each attribute, so that the order they come
// in does not change it.
func fingerprint(attrs pcommon.Map) uint64 {
	var sum uint64
	var h maphash.Hash
	h.SetSeed(fingerprintSeed)
	for k, v := range attrs.All() {
		h.Reset()
		h.WriteString(k)
		h.WriteByte(byte(v.Type()))
		if v.Type() == pcommon.ValueTypeStr {
			h.WriteString(v.Str())
		} else {
			h.WriteString(v.AsString())
		}
		sum += h.Sum64()
	}
	return sum
}

// sameAs reports whether r and o are the same resource. Resources with
// entity references are the same only as one object: pdata cannot
// compare those yet.
func (r *sharedResource) sameAs(o *sharedResource) bool {
	return r == o || (r.fingerprint == o.fingerprint && r.size == o.size &&
		r.res.DroppedAttributesCount() == o.res.DroppedAttributesCount() &&
		entity.ResourceEntityRefs(r.res).Len() == 0 && entity.ResourceEntityRefs(o.res).Len() == 0 &&
		r.res.Attributes().Equal(o.res.Attributes()))
}

// hold counts one more buffered chunk; the first one buffers its bytes.
func (e *Engine) hold(r *sharedResource) {
	if r.refs.Add(1) == 1 {
		e.buffered.Add(int64(r.size))
		e.tel.ProcessorMeshSamplingBytesBuffered.Add(context.Background(), int64(r.size))
	}
}

// release drops a trace's holds on its chunks' resources.
func (e *Engine) release(t *trace) {
	for _, c := range t.chunks {
		if r := c.res; r != nil && r.refs.Add(-1) == 0 {
			e.buffered.Add(-int64(r.size))
			e.tel.ProcessorMeshSamplingBytesBuffered.Add(context.Background(), -int64(r.size))
		}
	}
}

// extract builds a Traces with the scopes and spans of one group, and an
// empty resource: the output puts the chunk under its shared resource.
func extract(rs ptrace.ResourceSpans, g group) ptrace.Traces {
	td := ptrace.NewTraces()
	nrs := td.ResourceSpans().AppendEmpty()
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

// ingestTrace buffers a chunk of one trace, or passes it on or drops it when
// its trace was decided. With shared set, the chunk's resource is empty and
// shared holds it.
func (e *Engine) ingestTrace(id pcommon.TraceID, chunk ptrace.Traces, shared *sharedResource, source string, resMatch uint64, now time.Time, out *output) {
	ctx := context.Background()
	s := e.shardOf(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, buffered := s.traces[id]
	if !buffered {
		k, kept := s.kept.Get(id)
		dropped := !kept && s.dropped.Contains(id)
		stressed := !kept && !dropped && e.stressed.Load() && !e.closed.Load()
		switch {
		case kept:
			n := chunk.SpanCount()
			e.markKept(chunk, threshold.Threshold(k.Threshold), k.Rule, 0, false)
			out.add(chunk, shared, e.marshal.TracesSize(chunk))
			e.tel.ProcessorMeshSamplingLateSpans.Add(ctx, int64(n), metric.WithAttributeSet(lateKept))
			return
		case dropped:
			e.lateForDropped(s, id, chunk, shared, source, resMatch, now, out)
			return
		case stressed:
			e.decideUnbuffered(s, id, chunk, shared, source, resMatch, now, out)
			return
		}
	}
	b, err := e.marshal.MarshalTraces(chunk)
	if err != nil { // valid pdata always marshals; should it not, count the loss
		e.dropped(chunk.SpanCount(), dropUnbufferable)
		e.logger.Error("cannot buffer spans", zap.Error(err))
		return
	}
	before := 0
	if buffered {
		before = t.bytes + t.memoryOverhead()
	} else {
		t = newTrace(id, now.UnixNano())
		s.traces[id] = t
		s.order = append(s.order, id)
		e.tel.ProcessorMeshSamplingTracesBuffered.Add(ctx, 1)
	}
	e.observeChunk(t, chunk, source, resMatch)
	if t.complete() {
		s.due.add(id, now.UnixNano()+int64(e.set.SettleTime))
	}
	t.chunks = append(t.chunks, bufferedChunk{b: b, res: shared})
	if shared != nil {
		e.hold(shared)
	}
	t.bytes += len(b)
	t.spans += chunk.SpanCount()
	t.last = now.UnixNano()
	delta := int64(t.bytes + t.memoryOverhead() - before)
	e.buffered.Add(delta)
	e.tel.ProcessorMeshSamplingBytesBuffered.Add(ctx, delta)

	reason := ""
	switch {
	case e.closed.Load(): // Shutdown has drained this shard, or will: decide now
		reason = reasonShutdown
	case t.spans >= e.set.MaxSpansPerTrace:
		reason = reasonSpanLimit
	case t.bytes >= e.set.MaxBytesPerTrace:
		reason = reasonByteLimit
	}
	if reason != "" {
		e.decide(s, t, reason, now, out)
		delete(s.traces, id)
	}
}

// facts reads what the rules need from spans that will not be buffered.
func (e *Engine) facts(id pcommon.TraceID, chunk ptrace.Traces, source string, resMatch uint64, now time.Time) *trace {
	t := newTrace(id, now.UnixNano())
	e.observeChunk(t, chunk, source, resMatch)
	t.spans = chunk.SpanCount()
	return t
}

// observeChunk observes every span of a chunk of one trace.
func (e *Engine) observeChunk(t *trace, chunk ptrace.Traces, source string, resMatch uint64) {
	for _, rs := range chunk.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				e.observe(t, span, source, resMatch)
			}
		}
	}
}

// lateForDropped handles spans of a dropped trace. Errors are kept first:
// a trace dropped on what had arrived (span or byte limit, eviction, stress
// relief, max_wait) may show its error only in a later span, and then its
// remaining spans are kept from there on.
func (e *Engine) lateForDropped(s *shard, id pcommon.TraceID, chunk ptrace.Traces, shared *sharedResource, source string, resMatch uint64, now time.Time, out *output) {
	ctx := context.Background()
	n := chunk.SpanCount()
	if t := e.facts(id, chunk, source, resMatch, now); t.protected() {
		th, rule := e.rules.evaluate(t, now)
		final := max(th, t.upstream)
		if th != threshold.Never && final.Keeps(t.randomness) {
			s.kept.Put(id, decisioncache.Kept{Threshold: uint64(final), Rule: rule})
			e.markKept(chunk, final, rule, 0, false)
			out.add(chunk, shared, e.marshal.TracesSize(chunk))
			e.tel.ProcessorMeshSamplingLateSpans.Add(ctx, int64(n), metric.WithAttributeSet(lateRescued))
			return
		}
	}
	e.tel.ProcessorMeshSamplingLateSpans.Add(ctx, int64(n), metric.WithAttributeSet(lateDropped))
	e.dropped(n, dropLate)
}

// decideUnbuffered is stress relief: a new trace is decided at once, without
// buffering, by its trace id alone, unless its spans show an error or a mesh
// failure, which the rules keep as always.
func (e *Engine) decideUnbuffered(s *shard, id pcommon.TraceID, chunk ptrace.Traces, shared *sharedResource, source string, resMatch uint64, now time.Time, out *output) {
	t := e.facts(id, chunk, source, resMatch, now)
	th, rule := e.stressTh, RuleStressRelief
	if t.protected() {
		if rth, rrule := e.rules.evaluate(t, now); rth < th {
			th, rule = rth, rrule
		}
	}
	final := max(th, t.upstream)
	keep := th != threshold.Never && final.Keeps(t.randomness)
	e.tel.ProcessorMeshSamplingDecisions.Add(context.Background(), 1, metric.WithAttributeSet(decisionAttrs(rule, keep)))
	if !keep {
		s.dropped.Add(id)
		e.dropped(t.spans, dropStressRelief)
		return
	}
	s.kept.Put(id, decisioncache.Kept{Threshold: uint64(final), Rule: rule})
	e.markKept(chunk, final, rule, 0, false)
	out.add(chunk, shared, e.marshal.TracesSize(chunk))
}

// decide applies the rules to a buffered trace (the caller holds the shard
// lock and removes the trace), records the decision, and adds kept spans
// to out.
func (e *Engine) decide(s *shard, t *trace, reason string, now time.Time, out *output) {
	ctx := context.Background()
	th, rule := e.rules.evaluate(t, now)
	// The recorded threshold may only rise above an upstream one; the trace
	// is kept when its randomness passes what is recorded.
	final := max(th, t.upstream)
	keep := th != threshold.Never && final.Keeps(t.randomness)
	if keep && !e.limiter.allow(t.protected(), t.spans, now) {
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
	defer e.release(t)
	if !keep {
		s.dropped.Add(t.id)
		e.dropped(t.spans, dropSampledOut)
		return
	}
	s.kept.Put(t.id, decisioncache.Kept{Threshold: uint64(final), Rule: rule})
	if e.rules.coverage != nil {
		e.rules.coverage.record(t.edges, now)
	}
	root, complete := t.tree.rootSpanID(), t.complete()
	passed := 0
	for _, c := range t.chunks {
		td, err := e.unmarshal.UnmarshalTraces(c.b)
		if err != nil { // we marshaled it: cannot happen, but never panic
			e.logger.Error("buffered chunk does not decode", zap.Error(err))
			continue
		}
		passed += td.SpanCount()
		e.markKept(td, final, rule, root, complete)
		out.add(td, c.res, len(c.b))
	}
	if lost := t.spans - passed; lost > 0 {
		e.dropped(lost, dropUndecodable)
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

// runTick decides the complete traces that have settled (found through
// the due index) and, about once a second, the traces that reached max_wait
// (a sweep over all), relieves memory pressure and updates the stress-relief
// state, then passes on what was kept.
func (e *Engine) runTick(ctx context.Context) {
	now := e.clock.Now()
	nowNs := now.UnixNano()
	settle, maxWait := int64(e.set.SettleTime), int64(e.set.MaxWait)
	sweep := now.Sub(e.lastSweep) >= min(time.Second, e.set.MaxWait/4)
	if sweep {
		e.lastSweep = now
	}
	out := newOutput(ctx, e)
	for _, s := range e.shards {
		// Pass kept spans on outside the shard lock, in bounded exports: a
		// full output ends the round over the shard, and it starts again.
		for more := true; more; {
			more = false
			s.mu.Lock()
			for id, ok := s.due.pop(nowNs); ok; id, ok = s.due.pop(nowNs) {
				t, buffered := s.traces[id]
				if !buffered || !t.complete() || nowNs-t.last < settle {
					continue // stale: decided, or not settled since its last chunk
				}
				e.decide(s, t, reasonComplete, now, out)
				delete(s.traces, id)
				if out.full() {
					more = true
					break
				}
			}
			if sweep && !more {
				for id, t := range s.traces {
					if nowNs-t.first < maxWait {
						continue
					}
					e.decide(s, t, reasonMaxWait, now, out)
					delete(s.traces, id)
					if out.full() {
						more = true
						break
					}
				}
			}
			s.compactOrder()
			s.mu.Unlock()
			out.flushIfFull()
		}
	}
	e.relieve(now, out)
	out.flush()
}

// relieve updates the stress-relief state (pressure is measured before it
// is relieved), then, over the byte budget, decides the oldest traces on
// what they have.
func (e *Engine) relieve(now time.Time, out *output) {
	e.updateStress(now)
	for i := 0; e.buffered.Load() > e.set.MaxBufferedBytes; i++ {
		s := e.shards[e.evictNext.Add(1)%uint64(len(e.shards))]
		if !e.evictOldest(s, now, out) && i >= len(e.shards) && e.empty() {
			break
		}
		out.flushIfFull()
	}
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

func (e *Engine) evictOldest(s *shard, now time.Time, out *output) bool {
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
	e.stressMu.Lock()
	defer e.stressMu.Unlock()
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
	if ctx.Err() != nil { // Shutdown's time is up
		e.dropped(n, dropShutdown)
		e.logger.Warn("kept spans not passed on: shutdown timed out", zap.Int("spans", n))
		return
	}
	if err := e.next.ConsumeTraces(ctx, out); err != nil {
		e.tel.ProcessorMeshSamplingRefusedSpans.Add(context.Background(), int64(n))
		e.logger.Warn("next consumer refused kept spans", zap.Int("spans", n), zap.Error(err))
	}
}

// Reasons for processor_mesh_sampling_dropped_spans.
var (
	dropSampledOut   = attribute.NewSet(attribute.String("reason", "sampled_out"))
	dropLate         = attribute.NewSet(attribute.String("reason", "late"))
	dropStressRelief = attribute.NewSet(attribute.String("reason", "stress_relief"))
	dropShutdown     = attribute.NewSet(attribute.String("reason", "shutdown"))
	dropUndecodable  = attribute.NewSet(attribute.String("reason", "undecodable"))
	dropUnbufferable = attribute.NewSet(attribute.String("reason", "unbufferable"))
)

func (e *Engine) dropped(spans int, reason attribute.Set) {
	if spans > 0 {
		e.tel.ProcessorMeshSamplingDroppedSpans.Add(context.Background(), int64(spans), metric.WithAttributeSet(reason))
	}
}

// Stressed reports whether stress relief is active.
func (e *Engine) Stressed() bool { return e.stressed.Load() }

// BufferedBytes is what the buffered traces hold.
func (e *Engine) BufferedBytes() int64 { return e.buffered.Load() }

var (
	lateKept    = attribute.NewSet(attribute.String("source", "kept_cache"), attribute.String("outcome", "kept"))
	lateDropped = attribute.NewSet(attribute.String("source", "dropped_cache"), attribute.String("outcome", "dropped"))
	lateRescued = attribute.NewSet(attribute.String("source", "dropped_cache"), attribute.String("outcome", "kept"))
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
