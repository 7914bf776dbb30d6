package redistest_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"egov/internal/redisconn"
	"egov/internal/redistest"
)

// A cluster of three masters and three replicas comes up from
// redis-server; redisconn opens it both by its cluster URL and by one
// node's address, and keys of every slot are written and read through it.
func TestClusterFromRedisServer(t *testing.T) {
	c, err := redistest.StartCluster(t, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Nodes) != 6 || !strings.Contains(c.URL, "addr=") {
		t.Fatalf("cluster %+v", c)
	}
	ctx := context.Background()
	for _, url := range []string{c.URL, "redis://" + c.Nodes[len(c.Nodes)-1].Addr + "/0"} {
		rdb, err := redisconn.Open(url)
		if err != nil {
			t.Fatal(err)
		}
		if !redisconn.IsCluster(rdb) || !strings.HasPrefix(redisconn.Describe(rdb), "cluster of ") {
			t.Fatalf("%s opened as %s", url, redisconn.Describe(rdb))
		}
		for i := range 64 {
			k := fmt.Sprintf("k%d", i)
			if err := rdb.Set(ctx, k, i, 0).Err(); err != nil {
				t.Fatalf("%s: set %s: %v", url, k, err)
			}
			if got, err := rdb.Get(ctx, k).Int(); err != nil || got != i {
				t.Fatalf("%s: get %s: %d %v", url, k, got, err)
			}
		}
		var masters atomic.Int32
		if err := rdb.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			masters.Add(1)
			return nil
		}); err != nil || masters.Load() != 3 {
			t.Fatalf("%d masters (%v)", masters.Load(), err)
		}
		rdb.Close()
	}
	if _, err := redisconn.Open(c.URL[:strings.Index(c.URL, "?")] + "/1?" + c.URL[strings.Index(c.URL, "?")+1:]); err == nil {
		t.Fatal("a cluster URL naming database 1 was accepted")
	}
}
