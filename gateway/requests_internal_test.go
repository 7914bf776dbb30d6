package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/redis/go-redis/v9"
)

// A submission's transaction whose fate is unknown must wake the relay's
// sweep: it may have committed without a hint.
func TestOutcomeUnknown(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"committed", nil, false},
		{"a replay", &ErrReplayed{RequestID: "r"}, false},
		{"the watched record changed", redis.TxFailedErr, false},
		{"Redis answered", redis.Nil, false},
		{"the connection broke", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, true},
		{"the read timed out", fmt.Errorf("exec: %w", context.DeadlineExceeded), true},
		{"the client went away", context.Canceled, true},
	} {
		if got := outcomeUnknown(tc.err); got != tc.want {
			t.Errorf("%s: outcomeUnknown(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
