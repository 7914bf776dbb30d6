package retry

import (
	"context"
	"testing"
	"time"
)

// fixed returns the numbers given, in turn.
func fixed(xs ...float64) func() float64 {
	i := 0
	return func() float64 { x := xs[i%len(xs)]; i++; return x }
}

func TestStepsDoubleUpToTheCap(t *testing.T) {
	b := New(time.Second, 10*time.Second)
	b.Jitter = 0
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for i, w := range want {
		if got := b.Next(); got != w*time.Second {
			t.Fatalf("delay %d: %s, want %s", i+1, got, w*time.Second)
		}
	}
	b.Reset()
	if got := b.Next(); got != time.Second {
		t.Fatalf("after Reset: %s, want 1s", got)
	}
	for attempt, w := range map[int]time.Duration{1: 1, 2: 2, 3: 4, 4: 8, 5: 10, 1000: 10} {
		if got := b.Delay(attempt); got != w*time.Second {
			t.Fatalf("Delay(%d) = %s, want %s", attempt, got, w*time.Second)
		}
	}
}

func TestJitterSpreadsEachDelayAroundItsStep(t *testing.T) {
	b := New(time.Second, time.Minute)
	b.Rand = fixed(0, 0.5, 0.9999999)
	// step 1 s with r=0: half of it; step 2 s with r=0.5: the step; step
	// 4 s with r≈1: one and a half times it.
	for i, w := range []time.Duration{500 * time.Millisecond, 2 * time.Second, 6 * time.Second} {
		got := b.Next()
		if d := got - w; d < -time.Microsecond || d > time.Microsecond {
			t.Fatalf("delay %d: %s, want %s", i+1, got, w)
		}
	}
	// Delays of the same attempt differ with the random number, so two
	// loops that failed together do not retry together.
	b.Rand = fixed(0.1, 0.7)
	if x, y := b.Delay(3), b.Delay(3); x == y || x < 2*time.Second || y > 6*time.Second {
		t.Fatalf("Delay(3) twice: %s, %s", x, y)
	}
	// Out-of-range numbers and jitter are clamped.
	b.Jitter, b.Rand = 3, fixed(7)
	if got := b.Delay(1); got != 2*time.Second {
		t.Fatalf("clamped: %s, want 2s", got)
	}
}

func TestZeroInitialStillWaits(t *testing.T) {
	b := New(0, 0)
	b.Jitter = 0
	if got := b.Next(); got != time.Millisecond {
		t.Fatalf("zero backoff: %s, want the floor of 1ms", got)
	}
}

func TestSleepEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep reported a full wait on an ended context")
	}
	if !Sleep(context.Background(), 0) {
		t.Fatal("a zero wait on a live context was not full")
	}
}
