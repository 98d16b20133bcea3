package sampling // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/sampling"

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"runtime"
	"time"
)

// Config is the `sampling` section of the mesh processor: mesh tail sampling
// (gateway mode). Off by default: a sidecar buffers nothing.
type Config struct {
	// Enabled turns tail sampling on. All spans of a trace must reach the
	// same collector (use the load_balancing exporter by trace id in front).
	Enabled bool `mapstructure:"enabled"`
	// SettleTime is how long a trace that is complete in mesh terms waits
	// for stragglers before it is decided.
	SettleTime time.Duration `mapstructure:"settle_time"`
	// MaxWait decides traces that never complete, counted from their first
	// span (found by a sweep about once a second: up to a second later).
	MaxWait time.Duration `mapstructure:"max_wait"`
	// MaxSpansPerTrace and MaxBytesPerTrace decide a trace early when reached.
	MaxSpansPerTrace int `mapstructure:"max_spans_per_trace"`
	MaxBytesPerTrace int `mapstructure:"max_bytes_per_trace"`
	// MaxBufferedBytes bounds the spans held for decisions (OTLP protobuf
	// bytes plus bookkeeping); beyond it the oldest traces are decided on
	// what they have.
	MaxBufferedBytes int64 `mapstructure:"max_buffered_bytes"`
	// NumShards splits the buffer by trace id, each part with its own lock;
	// 0 means 16 per CPU.
	NumShards int `mapstructure:"num_shards"`
	// DecisionCache remembers decisions so that late spans follow them.
	DecisionCache DecisionCacheConfig `mapstructure:"decision_cache"`
	// StressRelief samples new traces by trace id without buffering while
	// the buffer is nearly full.
	StressRelief StressReliefConfig `mapstructure:"stress_relief"`
	// RateLimit caps what is kept; errors and mesh failures always pass.
	RateLimit RateLimitConfig `mapstructure:"rate_limit"`
	// RecordRule adds mesh.sampling.rule (the deciding rule) to kept spans.
	RecordRule bool `mapstructure:"record_rule"`
	// Rules decide which traces are kept, in the order documented in the README.
	Rules RulesConfig `mapstructure:"rules"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// DecisionCacheConfig sizes the decision caches.
type DecisionCacheConfig struct {
	// KeptTraces is how many kept traces are remembered (about 64 bytes each).
	KeptTraces int `mapstructure:"kept_traces"`
	// DroppedTraces is how many dropped traces are remembered (about 8 bytes each).
	DroppedTraces int `mapstructure:"dropped_traces"`
}

// StressReliefConfig configures stress relief.
type StressReliefConfig struct {
	// Enabled turns stress relief on.
	Enabled bool `mapstructure:"enabled"`
	// ActivationLevel and DeactivationLevel are fractions of max_buffered_bytes.
	ActivationLevel   float64 `mapstructure:"activation_level"`
	DeactivationLevel float64 `mapstructure:"deactivation_level"`
	// MinActive is the shortest time stress relief stays on.
	MinActive time.Duration `mapstructure:"min_active"`
	// Probability is the trace-id sampling probability while it is on.
	Probability float64 `mapstructure:"probability"`
}

// RateLimitConfig caps kept traces and spans per second (0: no cap).
type RateLimitConfig struct {
	TracesPerSecond float64 `mapstructure:"traces_per_second"`
	SpansPerSecond  float64 `mapstructure:"spans_per_second"`
}

// RulesConfig holds the sampling rules. Each keeps the traces it matches
// with its probability; a trace matched by several rules is kept with the
// highest of their probabilities; baseline applies to every trace.
type RulesConfig struct {
	// Errors: a span with Error status, an HTTP 5xx or a gRPC server error.
	Errors ProbabilityRule `mapstructure:"errors"`
	// MeshFailures: an Envoy failure response flag (UF, UH, URX …) or a
	// retried request (retry.count), even when the final status is 200.
	MeshFailures ProbabilityRule `mapstructure:"mesh_failures"`
	// Latency: the whole trace or any hop over the threshold.
	Latency LatencyRuleConfig `mapstructure:"latency"`
	// Canary: a span with mesh.canary=true.
	Canary ProbabilityRule `mapstructure:"canary"`
	// Attributes: span or resource attribute matches.
	Attributes []AttributeRuleConfig `mapstructure:"attributes"`
	// EdgeCoverage keeps at least min_traces traces per window for every
	// source → destination service edge.
	EdgeCoverage EdgeCoverageConfig `mapstructure:"edge_coverage"`
	// Baseline: every other trace.
	Baseline ProbabilityRule `mapstructure:"baseline"`
}

// ProbabilityRule is a rule with only a probability (0 disables it).
type ProbabilityRule struct {
	Probability float64 `mapstructure:"probability"`
}

// LatencyRuleConfig configures the latency rule.
type LatencyRuleConfig struct {
	Probability float64 `mapstructure:"probability"`
	// Threshold applies to the whole trace and to every hop.
	Threshold time.Duration `mapstructure:"threshold"`
	// PerDestination overrides the hop threshold by destination service
	// (mesh.destination.service).
	PerDestination map[string]time.Duration `mapstructure:"per_destination"`
}

// AttributeRuleConfig keeps traces with a matching attribute. Set exactly
// one of values, regex, min/max or bool.
type AttributeRuleConfig struct {
	// Name identifies the rule in telemetry and mesh.sampling.rule.
	Name string `mapstructure:"name"`
	// Key is the attribute key.
	Key string `mapstructure:"key"`
	// Scope is "span" (default) or "resource".
	Scope string `mapstructure:"scope"`
	// Values match string values exactly.
	Values []string `mapstructure:"values"`
	// Regex matches string values.
	Regex string `mapstructure:"regex"`
	// Min and Max bound numeric values (strings are parsed).
	Min *float64 `mapstructure:"min"`
	Max *float64 `mapstructure:"max"`
	// Bool matches a boolean value.
	Bool *bool `mapstructure:"bool"`
	// Probability of keeping a matching trace (default 1).
	Probability *float64 `mapstructure:"probability"`
}

// probability returns the rule's probability, 1 when unset.
func (a AttributeRuleConfig) probability() float64 {
	if a.Probability == nil {
		return 1
	}
	return *a.Probability
}

// EdgeCoverageConfig configures the per-edge coverage rule.
type EdgeCoverageConfig struct {
	// MinTraces per edge and window; 0 disables the rule.
	MinTraces int           `mapstructure:"min_traces"`
	Window    time.Duration `mapstructure:"window"`
}

// DefaultConfig is the default `sampling` section (sampling off).
func DefaultConfig() Config {
	return Config{
		SettleTime:       time.Second,
		MaxWait:          30 * time.Second,
		MaxSpansPerTrace: 10_000,
		MaxBytesPerTrace: 8 << 20,
		MaxBufferedBytes: 256 << 20,
		DecisionCache:    DecisionCacheConfig{KeptTraces: 100_000, DroppedTraces: 1_000_000},
		StressRelief: StressReliefConfig{
			Enabled: true, ActivationLevel: 0.9, DeactivationLevel: 0.75,
			MinActive: 10 * time.Second, Probability: 0.01,
		},
		Rules: RulesConfig{
			Errors:       ProbabilityRule{Probability: 1},
			MeshFailures: ProbabilityRule{Probability: 1},
			Latency:      LatencyRuleConfig{Probability: 1, Threshold: time.Second},
			Canary:       ProbabilityRule{Probability: 1},
			EdgeCoverage: EdgeCoverageConfig{MinTraces: 1, Window: time.Minute},
			Baseline:     ProbabilityRule{Probability: 0.1},
		},
	}
}

// Bounds beyond which a setting breaks the sampler rather than tunes it.
const (
	minBufferedBytes    = 64 << 10
	maxShards           = 4096
	maxSpansPerTraceMax = 1_000_000
	maxKeptCache        = 10_000_000
	maxDroppedCache     = 100_000_000
	maxWaitMax          = time.Hour
	maxRules            = 64
)

// Errors lists what is wrong with the section when sampling is on, each
// error naming its key under sampling. (Not Validate: the processor's
// Validate reports these as sampling.<key> on lines of their own.)
func (s *Config) Errors() []error {
	if !s.Enabled {
		return nil
	}
	var errs []error
	// Written so that NaN fails every check.
	prob := func(key string, p float64) {
		if !(p >= 0 && p <= 1) {
			errs = append(errs, fmt.Errorf("%s: %v must be between 0 and 1", key, p))
		}
	}
	between := func(key string, d, lo, hi time.Duration) {
		if d < lo || d > hi {
			errs = append(errs, fmt.Errorf("%s: %v must be between %v and %v", key, d, lo, hi))
		}
	}
	intRange := func(key string, v, lo, hi int64) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("%s: %d must be between %d and %d", key, v, lo, hi))
		}
	}
	between("settle_time", s.SettleTime, time.Millisecond, maxWaitMax)
	between("max_wait", s.MaxWait, time.Millisecond, maxWaitMax)
	if s.SettleTime >= s.MaxWait {
		errs = append(errs, errors.New("settle_time must be shorter than sampling.max_wait"))
	}
	intRange("max_buffered_bytes", s.MaxBufferedBytes, minBufferedBytes, math.MaxInt64)
	intRange("max_spans_per_trace", int64(s.MaxSpansPerTrace), 1, maxSpansPerTraceMax)
	intRange("max_bytes_per_trace", int64(s.MaxBytesPerTrace), 1, 1<<30)
	intRange("num_shards", int64(s.NumShards), 0, maxShards)
	intRange("decision_cache.kept_traces", int64(s.DecisionCache.KeptTraces), 0, maxKeptCache)
	intRange("decision_cache.dropped_traces", int64(s.DecisionCache.DroppedTraces), 0, maxDroppedCache)
	if sr := s.StressRelief; sr.Enabled {
		if !(sr.DeactivationLevel > 0 && sr.DeactivationLevel < sr.ActivationLevel && sr.ActivationLevel <= 1) {
			errs = append(errs, errors.New("stress_relief: need 0 < deactivation_level < activation_level <= 1"))
		}
		// 0 would drop every new trace under stress: disable stress relief instead.
		if !(sr.Probability > 0 && sr.Probability <= 1) {
			errs = append(errs, fmt.Errorf("stress_relief.probability: %v must be above 0 and at most 1 (to keep nothing new under stress, lower the rules instead)", sr.Probability))
		}
		between("stress_relief.min_active", sr.MinActive, 0, maxWaitMax)
	}
	rate := func(key string, v float64) {
		if !(v >= 0 && v <= 1e9) {
			errs = append(errs, fmt.Errorf("rate_limit.%s: %v must be between 0 and 1e9", key, v))
		}
	}
	rate("traces_per_second", s.RateLimit.TracesPerSecond)
	rate("spans_per_second", s.RateLimit.SpansPerSecond)
	r := s.Rules
	prob("rules.errors.probability", r.Errors.Probability)
	prob("rules.mesh_failures.probability", r.MeshFailures.Probability)
	prob("rules.latency.probability", r.Latency.Probability)
	prob("rules.canary.probability", r.Canary.Probability)
	prob("rules.baseline.probability", r.Baseline.Probability)
	if r.Latency.Probability > 0 && r.Latency.Threshold <= 0 && len(r.Latency.PerDestination) == 0 {
		errs = append(errs, errors.New("rules.latency.threshold: must be positive when the rule is on"))
	}
	if r.Latency.Threshold > 24*time.Hour {
		errs = append(errs, errors.New("rules.latency.threshold: must be at most 24h"))
	}
	for dest, d := range r.Latency.PerDestination {
		between("rules.latency.per_destination."+dest, d, time.Nanosecond, 24*time.Hour)
	}
	intRange("rules.edge_coverage.min_traces", int64(r.EdgeCoverage.MinTraces), 0, 1_000_000)
	if r.EdgeCoverage.MinTraces > 0 {
		between("rules.edge_coverage.window", r.EdgeCoverage.Window, time.Millisecond, 24*time.Hour)
	}
	if len(r.Attributes) > maxRules {
		errs = append(errs, fmt.Errorf("rules.attributes: at most %d rules", maxRules))
	}
	names := map[string]bool{}
	for i, a := range r.Attributes {
		key := fmt.Sprintf("rules.attributes[%d]", i)
		if a.Name == "" || names[a.Name] {
			errs = append(errs, fmt.Errorf("%s.name: must be set and unique", key))
		}
		names[a.Name] = true
		if a.Key == "" {
			errs = append(errs, fmt.Errorf("%s.key: must be set", key))
		}
		if a.Scope != "" && a.Scope != "span" && a.Scope != "resource" {
			errs = append(errs, fmt.Errorf("%s.scope: %q must be span or resource", key, a.Scope))
		}
		kinds := 0
		if len(a.Values) > 0 {
			kinds++
		}
		if a.Regex != "" {
			kinds++
			if _, err := regexp.Compile(a.Regex); err != nil {
				errs = append(errs, fmt.Errorf("%s.regex: %w", key, err))
			}
		}
		if a.Min != nil || a.Max != nil {
			kinds++
			if (a.Min != nil && math.IsNaN(*a.Min)) || (a.Max != nil && math.IsNaN(*a.Max)) {
				errs = append(errs, fmt.Errorf("%s: min and max must be numbers", key))
			}
			if a.Min != nil && a.Max != nil && *a.Min > *a.Max {
				errs = append(errs, fmt.Errorf("%s: min must not be above max", key))
			}
		}
		if a.Bool != nil {
			kinds++
		}
		if kinds != 1 {
			errs = append(errs, fmt.Errorf("%s: set exactly one of values, regex, min/max or bool", key))
		}
		prob(key+".probability", a.probability())
	}
	return errs
}

// settings translates the validated section into the engine's settings.
func (s *Config) settings() engineSettings {
	shards := s.NumShards
	if shards == 0 {
		shards = 16 * runtime.GOMAXPROCS(0)
	}
	set := engineSettings{
		SettleTime:       s.SettleTime,
		MaxWait:          s.MaxWait,
		MaxSpansPerTrace: s.MaxSpansPerTrace,
		MaxBytesPerTrace: s.MaxBytesPerTrace,
		MaxBufferedBytes: s.MaxBufferedBytes,
		Shards:           shards,
		KeptCacheSize:    s.DecisionCache.KeptTraces,
		DroppedCacheSize: s.DecisionCache.DroppedTraces,
		TracesPerSecond:  s.RateLimit.TracesPerSecond,
		SpansPerSecond:   s.RateLimit.SpansPerSecond,
		RecordRule:       s.RecordRule,
		Rules: ruleSettings{
			Errors:       s.Rules.Errors.Probability,
			MeshFailures: s.Rules.MeshFailures.Probability,
			Latency: latencySettings{
				Probability:    s.Rules.Latency.Probability,
				Threshold:      s.Rules.Latency.Threshold,
				PerDestination: s.Rules.Latency.PerDestination,
			},
			Canary:       s.Rules.Canary.Probability,
			EdgeCoverage: edgeCoverageSettings{MinTraces: s.Rules.EdgeCoverage.MinTraces, Window: s.Rules.EdgeCoverage.Window},
			Baseline:     s.Rules.Baseline.Probability,
		},
	}
	if sr := s.StressRelief; sr.Enabled {
		set.StressRelief = stressReliefSettings{
			Activate:    sr.ActivationLevel,
			Deactivate:  sr.DeactivationLevel,
			MinActive:   sr.MinActive,
			Probability: sr.Probability,
		}
	}
	for _, a := range s.Rules.Attributes {
		r := attributeSettings{
			Name: a.Name, Key: a.Key, Resource: a.Scope == "resource", Values: a.Values,
			Min: a.Min, Max: a.Max, Bool: a.Bool, Probability: a.probability(),
		}
		if a.Regex != "" {
			r.Regex = regexp.MustCompile(a.Regex) // validated
		}
		set.Rules.Attributes = append(set.Rules.Attributes, r)
	}
	return set
}
