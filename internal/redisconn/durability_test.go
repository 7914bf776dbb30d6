package redisconn_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"egov/internal/redisconn"
	"egov/internal/redistest"
)

// openReplicated starts a master with one replica and opens the master.
func openReplicated(t *testing.T) (redis.UniversalClient, *redistest.Node) {
	t.Helper()
	master, replica, err := redistest.StartReplicated(t)
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := redisconn.Open(master)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb, replica
}

// A write waits for its replica on the connection that carried it: with
// the replica up it is acknowledged; with the replica gone the wait ends
// at its timeout with ErrNotReplicated, and the write is still on the
// master.
func TestDurabilityWaitsForTheReplica(t *testing.T) {
	rdb, replica := openReplicated(t)
	ctx := context.Background()
	d := redisconn.Durability{Replicas: 1, Timeout: 300 * time.Millisecond}
	write := func(key string) error {
		return rdb.Watch(ctx, func(tx *redis.Tx) error {
			if _, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error { p.Set(ctx, key, "v", 0); return nil }); err != nil {
				return err
			}
			return d.Wait(ctx, tx)
		}, key)
	}
	if err := write("acknowledged"); err != nil {
		t.Fatalf("with the replica up: %v", err)
	}
	if err := replica.Kill(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := write("not-acknowledged")
	if !errors.Is(err, redisconn.ErrNotReplicated) {
		t.Fatalf("with the replica gone: %v", err)
	}
	if took := time.Since(start); took < 250*time.Millisecond || took > 3*time.Second {
		t.Fatalf("the wait took %s, its timeout is 300 ms", took)
	}
	if v, _ := rdb.Get(ctx, "not-acknowledged").Result(); v != "v" {
		t.Fatal("the unacknowledged write is not on the master")
	}
	if err := (redisconn.Durability{}).Wait(ctx, rdb.(*redis.Client)); err != nil {
		t.Fatalf("no replicas asked for: %v", err)
	}
}

// On a cluster, keys go by the master holding them, and each master's
// pipeline ends with its own WAIT: every write is acknowledged by that
// master's replica.
func TestDurabilityByMasterOnACluster(t *testing.T) {
	c, err := redistest.StartCluster(t, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := redisconn.Open(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	var keys []string
	for i := range 30 {
		keys = append(keys, fmt.Sprintf("{tag%d}:k", i))
	}
	groups, err := redisconn.ByMaster(ctx, rdb, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 3 {
		t.Fatalf("30 tags on %d masters, want 3", len(groups))
	}
	d := redisconn.Durability{Replicas: 1, Timeout: 2 * time.Second}
	for node, idx := range groups {
		cn := node.Conn()
		if _, err := cn.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range idx {
				p.Set(ctx, keys[i], i, 0)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := d.Wait(ctx, cn); err != nil {
			t.Fatalf("master %s: %v", node.Options().Addr, err)
		}
		cn.Close()
	}
	for i, k := range keys {
		if got, err := rdb.Get(ctx, k).Int(); err != nil || got != i {
			t.Fatalf("%s: %d %v", k, got, err)
		}
	}
}

// A script's write is acknowledged by the replica before RunScript
// answers; with the replica gone it fails with ErrNotReplicated and the
// write is on the master. Without durability it is a plain run.
func TestScriptWaitsForTheReplica(t *testing.T) {
	rdb, replica := openReplicated(t)
	ctx := context.Background()
	script := redis.NewScript(`redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])`)
	d := redisconn.Durability{Replicas: 1, Timeout: 300 * time.Millisecond}
	for _, tc := range []struct {
		name string
		d    redisconn.Durability
		kill bool
		want error
	}{
		{name: "acknowledged", d: d},
		{name: "no replicas asked for", d: redisconn.Durability{}},
		{name: "not acknowledged", d: d, kill: true, want: redisconn.ErrNotReplicated},
		{name: "none asked for, none there", d: redisconn.Durability{}},
	} {
		if tc.kill {
			if err := replica.Kill(); err != nil {
				t.Fatal(err)
			}
		}
		key := "{script}:" + tc.name
		v, err := redisconn.RunScript(ctx, rdb, tc.d, script, []string{key}, tc.name).Text()
		if !errors.Is(err, tc.want) || (err == nil && v != tc.name) {
			t.Fatalf("%s: %q %v, want %v", tc.name, v, err, tc.want)
		}
		if got, _ := rdb.Get(ctx, key).Result(); got != tc.name {
			t.Fatalf("%s: the write is not on the master", tc.name)
		}
	}
}
