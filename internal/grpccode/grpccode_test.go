package grpccode

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"google.golang.org/grpc/codes"
)

// The table follows grpc-go's codes, in upper snake case.
func TestNames(t *testing.T) {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		name, ok := Name(int(c))
		assert.True(t, ok)
		assert.NotEmpty(t, name)
	}
	name, _ := Name(int(codes.Unavailable))
	assert.Equal(t, "UNAVAILABLE", name)
	name, _ = Name(int(codes.FailedPrecondition))
	assert.Equal(t, "FAILED_PRECONDITION", name)
	for _, bad := range []int{-1, 17} {
		_, ok := Name(bad)
		assert.False(t, ok)
	}
}
