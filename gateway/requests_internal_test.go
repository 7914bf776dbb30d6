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

// A Redis that cannot answer for now (down, failing over, its slot map
// stale) is told from other internal errors: new work is answered 503.
func TestRedisPassingFailuresAreUnavailable(t *testing.T) {
	for msg, passing := range map[string]bool{
		"dial tcp 127.0.0.1:7000: connect: connection refused":        true,
		"CLUSTERDOWN The cluster is down":                             true,
		"MOVED 3924 127.0.0.1:20107":                                  true,
		"ASK 3924 127.0.0.1:20107":                                    true,
		"TRYAGAIN Multiple keys request during rehashing":             true,
		"LOADING Redis is loading the dataset in memory":              true,
		"EXECABORT Transaction discarded because of previous errors.": true,
		"redis: Conn is in a bad state: EOF":                          true,
		"redis: connection pool timeout":                              true,
		"ERR wrong number of arguments for 'hset' command":            false,
		"CROSSSLOT Keys in request don't hash to the same slot":       false,
	} {
		if got := isRedisDown(errors.New(msg)); got != passing {
			t.Errorf("%q: passing %v, want %v", msg, got, passing)
		}
	}
}
