package threshold

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Examples from OTEP 235 and the tracestate probability sampling spec.
func TestFromProbabilityOTEPExamples(t *testing.T) {
	tests := []struct {
		p  float64
		th string
	}{
		{1, "0"},
		{0.5, "8"},
		{0.25, "c"},
		{0.125, "e"},
		{0.75, "4"},
		{1.0 / 3, "aaab"},
		{2.0 / 3, "5555"},
		{0.1, "e666"},
		{0.01, "fd70a"},
	}
	for _, tt := range tests {
		th := FromProbability(tt.p)
		assert.Equal(t, tt.th, th.String(), "p=%v", tt.p)
		parsed, err := Parse(tt.th)
		require.NoError(t, err)
		assert.Equal(t, th, parsed)
		assert.InDelta(t, tt.p, th.Probability(), 0.0001, "p=%v", tt.p)
	}
	assert.Equal(t, Never, FromProbability(0))
	for _, p := range []float64{1e-3, 1e-5, 1e-6, 1e-9} {
		assert.InEpsilon(t, p, FromProbability(p).Probability(), 1e-3, "small probabilities keep their precision: p=%v", p)
	}
	assert.Equal(t, 4.0, FromProbability(0.25).AdjustedCount())
	assert.Equal(t, 1.0, Always.AdjustedCount())
}

func TestKeeps(t *testing.T) {
	c := FromProbability(0.25) // 0xc0000000000000
	assert.True(t, c.Keeps(0xc0000000000000))
	assert.True(t, c.Keeps(0xffffffffffffff))
	assert.False(t, c.Keeps(0xbfffffffffffff))
	assert.True(t, Always.Keeps(0))
	assert.False(t, Never.Keeps(0xffffffffffffff))
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"", "g", "123456789012345", "-1"} {
		_, err := Parse(bad)
		assert.Error(t, err, bad)
	}
}

func TestRandomness(t *testing.T) {
	id := pcommon.TraceID{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}
	assert.Equal(t, uint64(0x69b633813fc60c), Randomness(id, ""), "last 7 bytes of the trace id")
	assert.Equal(t, uint64(0x7f000000000000), Randomness(id, "ot=th:8;rv:7f000000000000,vendor=x"), "explicit rv wins")
	assert.Equal(t, uint64(0x69b633813fc60c), Randomness(id, "ot=rv:zz"), "invalid rv ignored")
}

func TestComposeAndWrite(t *testing.T) {
	half := FromProbability(0.5)
	quarter := FromProbability(0.25)
	assert.Equal(t, quarter, Compose(half, "ot=th:c"), "an upstream threshold may only rise")
	assert.Equal(t, quarter, Compose(quarter, "ot=th:8"))
	assert.Equal(t, half, Compose(half, "vendor=a"))

	assert.Equal(t, "ot=th:8", WithThreshold("", half))
	assert.Equal(t, "ot=th:c;rv:7f000000000000,vendor=a", WithThreshold("vendor=a,ot=th:8;rv:7f000000000000", quarter))
	assert.Equal(t, "ot=th:0,congo=t61rcWkgMzE", WithThreshold("congo=t61rcWkgMzE", Always))
}

// Never has no th encoding; printing it (stress relief at probability 0 logs
// its threshold) must not panic.
func TestNeverString(t *testing.T) {
	assert.Equal(t, "never", Never.String())
	assert.Equal(t, "never", FromProbability(0).String())
	assert.Equal(t, "never", FromProbability(math.NaN()).String())
}
