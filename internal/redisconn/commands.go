package redisconn

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Commands counts the Redis commands this process sends through the
// clients Open returns: each command of a pipeline or a transaction
// (MULTI and EXEC included), as Redis's own INFO commandstats counts
// them. Commands sent on a cluster master's own client (the WAIT after a
// durable write) are not counted. It is the process's metric
// egov_redis_commands_total (ops.NewRegistry): divided by the requests
// served, the cost of a request in Redis commands, per process.
var Commands = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "egov_redis_commands_total",
	Help: "Redis commands this process sent (each command of a pipeline or transaction).",
})

// countingHook adds what passes to Commands.
type countingHook struct{}

func (countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		Commands.Inc()
		return next(ctx, cmd)
	}
}

func (countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		Commands.Add(float64(len(cmds)))
		return next(ctx, cmds)
	}
}

// counted adds the counting hook to c.
func counted[C interface{ AddHook(redis.Hook) }](c C) C {
	c.AddHook(countingHook{})
	return c
}
