package redisconn

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// ScanEach calls fn with every key matching pattern, on one Redis or on
// every master of a cluster (a cluster client's SCAN asks one node only).
// fn is called from one goroutine at a time; an error from it or from a
// node stops the scan. A key may be seen twice, as SCAN allows.
func ScanEach(ctx context.Context, c redis.UniversalClient, pattern string, fn func(key string) error) error {
	scan := func(ctx context.Context, node redis.Cmdable, each func(string) error) error {
		iter := node.Scan(ctx, 0, pattern, 500).Iterator()
		for iter.Next(ctx) {
			if err := each(iter.Val()); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	cluster, ok := c.(*redis.ClusterClient)
	if !ok {
		return scan(ctx, c, fn)
	}
	// The masters are scanned side by side: the first error stops them all.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var failed error
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		return scan(ctx, node, func(key string) error {
			mu.Lock()
			defer mu.Unlock()
			if failed != nil {
				return failed
			}
			if failed = fn(key); failed != nil {
				cancel()
			}
			return failed
		})
	})
	if failed != nil {
		return failed
	}
	return err
}
