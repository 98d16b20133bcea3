package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestMedianRound(t *testing.T) {
	rounds := []*result{
		{name: "a", cpu: 3 * time.Second, sentSpans: 150, peakRSS: 50}, // 20 ms/span
		{name: "b", cpu: 6 * time.Second, sentSpans: 600, peakRSS: 90}, // 10 ms/span
		{name: "c", cpu: 6 * time.Second, sentSpans: 200, peakRSS: 70}, // 30 ms/span
	}
	m := median(rounds, false)
	assert.Equal(t, "a", m.name, "the round of median CPU per span")
	assert.Equal(t, int64(70), m.peakRSS, "the median RSS of all rounds, whichever round is chosen")

	m = median(rounds, true)
	assert.Equal(t, "c", m.name, "ceiling: the round of median accepted spans")
	assert.Equal(t, int64(70), m.peakRSS, "the median RSS of all rounds, whichever round is chosen")
	assert.Equal(t, int64(50), rounds[0].peakRSS, "the rounds themselves are left as they were")
}

func TestCPURatioIsTheMedianOfTheRounds(t *testing.T) {
	round := func(usPerSpan int) *result {
		return &result{cpu: time.Duration(usPerSpan) * time.Millisecond, sentSpans: 1000}
	}
	// Pass-through's rounds got slower and slower; the gateway's slowest
	// round came first. Their medians (24 and 20 µs) would give 1.2; the
	// rounds' ratios are 3.3, 0.65 and 0.8.
	pt := &result{rounds: []*result{round(10), round(20), round(30)}}
	gw := &result{rounds: []*result{round(33), round(13), round(24)}}
	assert.InDelta(t, 0.8, cpuRatio(gw, pt), 1e-9)
	assert.InDeltaSlice(t, []float64{3.3, 0.65, 0.8}, roundRatios(gw, pt), 1e-9)

	// One round (or rounds that do not pair up): the two results' ratio.
	one := &result{cpu: 3 * time.Second, sentSpans: 1000}
	ref := &result{cpu: 2 * time.Second, sentSpans: 1000}
	assert.InDelta(t, 1.5, cpuRatio(one, ref), 1e-9)
	assert.Nil(t, roundRatios(gw, &result{rounds: pt.rounds[:2]}))
}
