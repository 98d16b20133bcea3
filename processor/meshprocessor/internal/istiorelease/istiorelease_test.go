package istiorelease

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLookup(t *testing.T) {
	tbl, err := New(map[string]string{"0123456789ab": "1.31.0", "4382ac5fc1d3": "1.25.0"})
	require.NoError(t, err)
	tests := []struct {
		sha  string
		want []string
	}{
		{"4382ac5fc1d3", []string{"1.25.0"}}, // also configured as a prefix: still one release
		{"4382ac5fc1d362094bbba33283dbe60a3e1cef88", []string{"1.25.0"}},
		{"580bf9cc561a", []string{"1.20.0"}},
		{"81864a1cd509", []string{"1.30.3"}},
		{"7319e99e3b3a", []string{"1.30.0"}},
		{"0123456789abcdef0123456789abcdef01234567", []string{"1.31.0"}},
		{"0ba73dcebc4c11bd3833a4a78b503e0167702b20", nil}, // filled below: listed twice
		{"ffffffffffff", nil},
		{"4382ac", nil}, // too short to be trusted
	}
	tests[6].want = tbl.Lookup(tests[6].sha)
	require.Len(t, tests[6].want, 2, "the shipped table lists this SHA for two releases")
	assert.True(t, Less(tests[6].want[0], tests[6].want[1]))
	for _, tt := range tests {
		assert.Equal(t, tt.want, tbl.Lookup(tt.sha), tt.sha)
	}
}

func TestShippedTableIsComplete(t *testing.T) {
	tbl, err := New(nil)
	require.NoError(t, err)
	n := 0
	for _, es := range tbl.byPrefix {
		n += len(es)
	}
	assert.Equal(t, 119, n, "releases 1.16.0-1.30.3")
}

func TestLess(t *testing.T) {
	assert.True(t, Less("1.9.0", "1.10.0"))
	assert.True(t, Less("1.10.0", "1.10.1"))
	assert.False(t, Less("1.10.1", "1.10.1"))
	assert.True(t, Less("1.23", "1.23.0"))
}
