package periodic

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// Every calls its chore once a period, first one period after the start,
// and returns once its context ends.
func TestEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var calls atomic.Int32
		done := make(chan struct{})
		go func() { Every(ctx, time.Minute, func(context.Context) { calls.Add(1) }); close(done) }()
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if n := calls.Load(); n != 0 {
			t.Fatalf("%d calls before the first period", n)
		}
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		if n := calls.Load(); n != 3 {
			t.Fatalf("%d calls in 3.5 periods, want 3", n)
		}
		cancel()
		<-done
	})
}
