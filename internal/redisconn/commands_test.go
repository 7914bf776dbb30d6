package redisconn_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"egov/internal/redisconn"
	"egov/internal/redistest"
)

// Every command a client of Open sends is counted, each of a pipeline's
// and a transaction's (MULTI and EXEC with them), and those that set up a
// connection (HELLO, CLIENT SETINFO), which Redis counts as well: each case is
// counted the second time it runs, on connections set up the first.
func TestCommandsAreCounted(t *testing.T) {
	r := redistest.New(t)
	rdb, err := redisconn.Open(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	key := r.Prefix + "{counted}:k"
	for _, tc := range []struct {
		name string
		run  func() error
		want float64
	}{
		{"one command", func() error { return rdb.Set(ctx, key, 1, 0).Err() }, 1},
		{"a pipeline of three", func() error {
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.Incr(ctx, key)
				p.Incr(ctx, key)
				p.Get(ctx, key)
				return nil
			})
			return err
		}, 3},
		{"a transaction of two", func() error {
			_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Incr(ctx, key)
				p.Get(ctx, key)
				return nil
			})
			return err
		}, 4},
	} {
		if err := tc.run(); err != nil { // the connections it takes set up
			t.Fatalf("%s: %v", tc.name, err)
		}
		before := testutil.ToFloat64(redisconn.Commands)
		if err := tc.run(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := testutil.ToFloat64(redisconn.Commands) - before; got != tc.want {
			t.Errorf("%s: %v commands counted, want %v", tc.name, got, tc.want)
		}
	}
}
