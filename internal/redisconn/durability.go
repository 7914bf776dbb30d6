package redisconn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Durability is what the product waits for before it answers "accepted"
// for a write (the portal's 202, the bus's sendMessage): that Replicas
// replicas of the master holding it acknowledged it (WAIT), within
// Timeout. Redis replicates asynchronously; without the wait a master that
// dies right after the answer can take the write with it (RELIABILITY.md).
// Zero Replicas: no wait.
type Durability struct {
	Replicas int
	Timeout  time.Duration
}

// ErrNotReplicated: the write is on the master, but fewer replicas than
// asked acknowledged it in time. The product answers "not accepted, try
// again" rather than promise what it cannot; a retry finds the write if
// the master kept it.
var ErrNotReplicated = errors.New("redis: the write was not acknowledged by enough replicas in time")

// DefaultWaitTimeout bounds WAIT when Durability names replicas but no
// timeout.
const DefaultWaitTimeout = 500 * time.Millisecond

// On reports whether the durability asks for replicas at all.
func (d Durability) On() bool { return d.Replicas > 0 }

func (d Durability) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return DefaultWaitTimeout
}

// Waiter is what can send WAIT on one connection: a Tx or a Conn (a
// pooled client would send it on any of its connections). Never a
// pipeline: there the client reads WAIT's answer within its read timeout,
// not WAIT's, and resends the whole pipeline on another connection when
// that passes.
type Waiter interface {
	Wait(ctx context.Context, numReplicas int, timeout time.Duration) *redis.IntCmd
}

// Wait runs WAIT on c, which must be the connection (a Tx, a Conn) that
// carried the write; it returns ErrNotReplicated when too few replicas
// acknowledged.
func (d Durability) Wait(ctx context.Context, c Waiter) error {
	if !d.On() {
		return nil
	}
	return d.check(c.Wait(ctx, d.Replicas, d.timeout()))
}

func (d Durability) check(cmd *redis.IntCmd) error {
	n, err := cmd.Result()
	if err != nil {
		return err
	}
	if int(n) < d.Replicas {
		return fmt.Errorf("%w: %d of %d replicas within %s", ErrNotReplicated, n, d.Replicas, d.timeout())
	}
	return nil
}

// ByMaster groups keys by the client of the master that holds them: the
// client itself for one Redis, each master's own client on a cluster, so
// that a write and its WAIT can share one connection (take it with Conn).
func ByMaster(ctx context.Context, c redis.UniversalClient, keys []string) (map[*redis.Client][]int, error) {
	out := map[*redis.Client][]int{}
	switch c := c.(type) {
	case *redis.Client:
		for i := range keys {
			out[c] = append(out[c], i)
		}
		return out, nil
	case *redis.ClusterClient:
		for i, k := range keys {
			node, err := c.MasterForKey(ctx, k)
			if err != nil {
				return nil, err
			}
			out[node] = append(out[node], i)
		}
		return out, nil
	}
	return nil, fmt.Errorf("redis: cannot wait for the replicas of a %T", c)
}

// RunScript runs script like script.Run and, when d asks for replicas,
// waits for them (WAIT) on the connection of the master that holds
// keys[0] (every key of a script shares its slot) before it answers: the
// caller may then tell others it has the write (the portal confirming an
// answer it filed, a provider sending the result it stored). Short of the
// replicas the command fails with ErrNotReplicated: the write is on the
// master, and the caller's retry finds it there.
func RunScript(ctx context.Context, rdb redis.UniversalClient, d Durability, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	if !d.On() {
		return script.Run(ctx, rdb, keys, args...)
	}
	groups, err := ByMaster(ctx, rdb, keys[:1])
	if err != nil {
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(err)
		return cmd
	}
	var node *redis.Client
	for n := range groups {
		node = n
	}
	cn := node.Conn()
	defer cn.Close()
	cmd := script.Run(ctx, cn, keys, args...)
	if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
		if c, ok := rdb.(*redis.ClusterClient); ok {
			// A master's own client follows no redirection: reload the
			// map for the caller's retry.
			c.ReloadState(ctx)
		}
		return cmd
	}
	if err := d.Wait(ctx, cn); err != nil {
		cmd.SetErr(err)
	}
	return cmd
}
