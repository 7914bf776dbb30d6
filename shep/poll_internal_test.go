package shep

import (
	"testing"
	"time"
)

// BLOCK 0 is "for ever": a remainder under a millisecond must not block.
func TestBlockForNeverSendsBlockZero(t *testing.T) {
	for _, c := range []struct{ wait, slice, want time.Duration }{
		{10 * time.Second, 0, time.Second},
		{10 * time.Second, time.Second, time.Second},
		{1500 * time.Millisecond, 2 * time.Second, 1500 * time.Millisecond},
		{2500 * time.Microsecond, time.Second, 2 * time.Millisecond},
		{999 * time.Microsecond, time.Second, -1},
		{time.Microsecond, time.Second, -1},
		{0, time.Second, -1},
		{-time.Second, time.Second, -1},
	} {
		if got := blockFor(c.wait, c.slice); got != c.want {
			t.Errorf("blockFor(%s, %s) = %s, want %s", c.wait, c.slice, got, c.want)
		}
	}
}
