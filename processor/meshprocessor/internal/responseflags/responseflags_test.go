package responseflags

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFailure(t *testing.T) {
	tests := []struct {
		in   string
		flag string
		ok   bool
	}{
		{"-", "", false},
		{"", "", false},
		{"DI", "", false},
		{"UF", "UF", true},
		{"UH", "UH", true},
		{"DI,URX", "URX", true},
		{"UF,URX", "UF", true},
		{"NR", "NR", true},
		{"UT", "UT", true},
		{"UO", "UO", true},
		{"DC", "DC", true},
		{"LR", "LR", true},
		{"XYZ", "", false},
	}
	for _, tt := range tests {
		flag, ok := Failure(tt.in)
		assert.Equal(t, tt.flag, flag, tt.in)
		assert.Equal(t, tt.ok, ok, tt.in)
	}
}
