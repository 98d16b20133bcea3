// Package threshold implements OpenTelemetry consistent probability sampling
// (OTEP 235, "TraceState: Probability Sampling"): 56-bit randomness from the
// trace id or the `rv` sub-key, rejection thresholds `th`, and editing of the
// `ot` entry of a W3C tracestate.
package threshold // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/threshold"

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

const (
	// Bits of randomness and of thresholds.
	Bits = 56
	// max56 is 2^56: the size of the threshold space.
	max56 = uint64(1) << Bits
	// Always is the threshold that keeps everything (probability 1).
	Always Threshold = 0
	// defaultPrecision is how many hex digits a threshold computed from a
	// probability keeps (the contrib probabilistic sampler's default).
	defaultPrecision = 4
)

// Threshold is a rejection threshold T in [0, 2^56): an item with randomness
// R is kept iff R >= T. Its sampling probability is (2^56 - T) / 2^56.
type Threshold uint64

// Never is the threshold above every randomness value: nothing is kept.
const Never Threshold = Threshold(max56)

// FromProbability returns the threshold for probability p in (0, 1], with
// 4 significant hex digits of precision in p (so that `th` stays short).
// p ≤ 0 gives Never.
func FromProbability(p float64) Threshold {
	switch {
	case p >= 1:
		return Always
	case p <= 0 || math.IsNaN(p):
		return Never
	}
	t := uint64(math.Round((1 - p) * float64(max56)))
	if t >= max56 {
		return Never
	}
	// Keep 4 significant hex digits of the probability: one more digit of
	// the threshold for every leading "f" (p < 1/16, 1/256, …).
	digits := defaultPrecision
	for shift := 52; shift >= 0 && digits < 14 && (t>>uint(shift))&0xf == 0xf; shift -= 4 {
		digits++
	}
	shift := uint((14 - digits) * 4)
	if shift == 0 {
		return Threshold(t)
	}
	rounded := (t + (1 << (shift - 1))) >> shift << shift
	if rounded >= max56 {
		rounded = t >> shift << shift
	}
	return Threshold(rounded)
}

// Probability is the sampling probability of the threshold.
func (t Threshold) Probability() float64 {
	if t >= Never {
		return 0
	}
	return float64(max56-uint64(t)) / float64(max56)
}

// AdjustedCount is 1/probability: how many items a kept item stands for.
func (t Threshold) AdjustedCount() float64 {
	p := t.Probability()
	if p == 0 {
		return 0
	}
	return 1 / p
}

// Keeps reports whether an item with randomness r passes the threshold.
func (t Threshold) Keeps(r uint64) bool { return r >= uint64(t) }

// String encodes the threshold as `th` does: 14 hex digits with trailing
// zeros removed, "0" for Always. Never has no `th` encoding (nothing with it
// is kept, so it is never written): it prints as "never", for logs.
func (t Threshold) String() string {
	if t == Always {
		return "0"
	}
	if t >= Never {
		return "never"
	}
	s := strconv.FormatUint(uint64(t), 16)
	s = strings.Repeat("0", 14-len(s)) + s
	return strings.TrimRight(s, "0")
}

// Parse decodes a `th` value (1 to 14 hex digits, right-padded with zeros).
func Parse(s string) (Threshold, error) {
	if s == "" || len(s) > 14 {
		return 0, errors.New("th must have 1 to 14 hex digits")
	}
	v, err := strconv.ParseUint(s+strings.Repeat("0", 14-len(s)), 16, 64)
	if err != nil {
		return 0, errors.New("th must be hex digits")
	}
	return Threshold(v), nil
}

// Randomness returns the 56 bits of randomness of a trace: the `rv` value of
// the tracestate's `ot` entry when present and valid, else the last 7 bytes
// of the trace id.
func Randomness(traceID pcommon.TraceID, tracestate string) uint64 {
	if v, ok := ExplicitRandomness(tracestate); ok {
		return v
	}
	return TraceIDRandomness(traceID)
}

// ExplicitRandomness returns the tracestate's valid `rv` value, if any.
func ExplicitRandomness(tracestate string) (uint64, bool) {
	if rv, ok := otValue(tracestate, "rv"); ok && len(rv) == 14 {
		if v, err := strconv.ParseUint(rv, 16, 64); err == nil {
			return v, true
		}
	}
	return 0, false
}

// TraceIDRandomness is the randomness of a trace without `rv`: the last 7
// bytes of its id.
func TraceIDRandomness(traceID pcommon.TraceID) uint64 {
	return binary.BigEndian.Uint64(traceID[8:]) & (max56 - 1)
}

// Upstream returns the threshold an earlier sampler recorded in the
// tracestate's `ot=th:…`, and whether there was a valid one.
func Upstream(tracestate string) (Threshold, bool) {
	th, ok := otValue(tracestate, "th")
	if !ok {
		return 0, false
	}
	t, err := Parse(th)
	return t, err == nil
}

// otValue returns a sub-key of the `ot` entry ("ot=th:c;rv:…").
func otValue(tracestate, key string) (string, bool) {
	ot, ok := otEntry(tracestate)
	if !ok {
		return "", false
	}
	for kv := range strings.SplitSeq(ot, ";") {
		if k, v, found := strings.Cut(kv, ":"); found && k == key {
			return v, true
		}
	}
	return "", false
}

func otEntry(tracestate string) (string, bool) {
	for member := range strings.SplitSeq(tracestate, ",") {
		member = strings.TrimSpace(member)
		if v, found := strings.CutPrefix(member, "ot="); found {
			return v, true
		}
	}
	return "", false
}

// Compose returns the threshold to record when a sampler with threshold t
// keeps an item that arrived with tracestate: thresholds may only rise, so
// the result is the larger of t and the upstream one.
func Compose(t Threshold, tracestate string) Threshold {
	if up, ok := Upstream(tracestate); ok && up > t {
		return up
	}
	return t
}

// WithThreshold returns tracestate with `th` in its `ot` entry set to t,
// keeping the other `ot` sub-keys and the other vendors' entries; the `ot`
// entry moves to the front, as W3C asks of a modified entry.
func WithThreshold(tracestate string, t Threshold) string {
	ot := "th:" + t.String()
	var rest []string
	for member := range strings.SplitSeq(tracestate, ",") {
		member = strings.TrimSpace(member)
		if member == "" {
			continue
		}
		v, isOT := strings.CutPrefix(member, "ot=")
		if !isOT {
			rest = append(rest, member)
			continue
		}
		for kv := range strings.SplitSeq(v, ";") {
			if kv != "" && !strings.HasPrefix(kv, "th:") {
				ot += ";" + kv
			}
		}
	}
	if len(rest) == 0 {
		return "ot=" + ot
	}
	return "ot=" + ot + "," + strings.Join(rest, ",")
}
