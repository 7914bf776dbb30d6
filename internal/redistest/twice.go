package redistest

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// RunScriptsTwice makes c send every Lua script twice, the second at once
// after the first, and return the second's answer: what a client does
// when a script's answer is late (go-redis sends a command again after a
// read timeout, and Redis has often run the first by then). A pipeline
// that holds a script is sent twice whole, as the client resends it.
// Code whose scripts are not idempotent under it spends a message's
// deliveries, counts twice or keeps itself out with its own lock.
func RunScriptsTwice(c redis.UniversalClient) { c.AddHook(twice{}) }

type twice struct{}

func (twice) DialHook(next redis.DialHook) redis.DialHook { return next }

func (twice) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !isScript(cmd) {
			return next(ctx, cmd)
		}
		if err := next(ctx, cmd); err != nil {
			return err // not run (NOSCRIPT) or not sent: nothing to repeat
		}
		return next(ctx, cmd)
	}
}

func (twice) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if isScript(cmd) {
				if err := next(ctx, cmds); err != nil {
					return err
				}
				break
			}
		}
		return next(ctx, cmds)
	}
}

func isScript(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "eval", "evalsha", "eval_ro", "evalsha_ro":
		return true
	}
	return false
}
