// Package periodic runs the stack's background chores (the bus's trim,
// the CRL refresh, the providers' review) on a ticker until their
// context ends.
package periodic

import (
	"context"
	"time"
)

// Every calls fn every d until ctx ends; the first call is d after the
// start. A call in progress when ctx ends finishes first.
func Every(ctx context.Context, d time.Duration, fn func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}
