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
