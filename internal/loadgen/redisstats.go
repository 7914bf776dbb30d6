package loadgen

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// RedisStats are a Redis's counters a load test compares before and after:
// on a cluster, the sum over its masters.
type RedisStats struct {
	Commands   int64   // commands served, INFO's own left out (commandstats)
	CPUSeconds float64 // used_cpu_sys + used_cpu_user
	UsedMemory int64   // bytes (used_memory)
}

// Sub is what s counted since before; memory is the difference in use.
func (s RedisStats) Sub(before RedisStats) RedisStats {
	return RedisStats{Commands: s.Commands - before.Commands, CPUSeconds: s.CPUSeconds - before.CPUSeconds,
		UsedMemory: s.UsedMemory - before.UsedMemory}
}

// ReadRedisStats reads the counters of the Redis c names, of every master
// of a cluster. They are the server's: on a Redis shared with other work,
// they count that work too.
func ReadRedisStats(ctx context.Context, c redis.UniversalClient) (RedisStats, error) {
	cluster, ok := c.(*redis.ClusterClient)
	if !ok {
		return readNodeStats(ctx, c)
	}
	var mu sync.Mutex
	var sum RedisStats
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		s, err := readNodeStats(ctx, node)
		mu.Lock()
		defer mu.Unlock()
		sum.Commands += s.Commands
		sum.CPUSeconds += s.CPUSeconds
		sum.UsedMemory += s.UsedMemory
		return err
	})
	return sum, err
}

func readNodeStats(ctx context.Context, c redis.Cmdable) (RedisStats, error) {
	info, err := c.InfoMap(ctx, "commandstats", "cpu", "memory").Result()
	if err != nil {
		return RedisStats{}, err
	}
	var s RedisStats
	for name, v := range info["Commandstats"] {
		if name == "cmdstat_info" {
			continue
		}
		// calls=N,usec=…
		if calls, _, ok := strings.Cut(strings.TrimPrefix(v, "calls="), ","); ok {
			n, _ := strconv.ParseInt(calls, 10, 64)
			s.Commands += n
		}
	}
	sys, _ := strconv.ParseFloat(info["CPU"]["used_cpu_sys"], 64)
	user, _ := strconv.ParseFloat(info["CPU"]["used_cpu_user"], 64)
	s.CPUSeconds = sys + user
	s.UsedMemory, _ = strconv.ParseInt(info["Memory"]["used_memory"], 10, 64)
	return s, nil
}
