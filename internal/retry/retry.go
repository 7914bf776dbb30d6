// Package retry paces the stack's retry loops: a delay that doubles from a
// first one up to a cap (github.com/cenkalti/backoff/v5 grows it), spread
// by jitter, so that the portal's relay and consumer, the labour-market
// system and whatever else lost the bus or Redis at the same moment do not
// all come back at the same moment either.
package retry

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// DefaultJitter spreads each delay over ±50 % of its step.
const DefaultJitter = 0.5

// Backoff is the delay sequence of one retry loop. Next and Reset are not
// safe for concurrent use; Delay is.
type Backoff struct {
	// Initial is the first step, Max the largest (a step doubles until it).
	Initial, Max time.Duration
	// Jitter is the fraction of a step a delay may lie either side of it,
	// in [0, 1]: a delay is step × (1 − Jitter + 2·Jitter·r) with r from
	// Rand. The cap bounds the step, so a delay may exceed Max by up to
	// Jitter × Max.
	Jitter float64
	// Rand returns numbers in [0, 1); nil means math/rand/v2.Float64.
	// Tests inject their own.
	Rand func() float64

	exp *backoff.ExponentialBackOff
}

// New returns a doubling backoff from initial to max with DefaultJitter.
func New(initial, max time.Duration) *Backoff {
	return &Backoff{Initial: initial, Max: max, Jitter: DefaultJitter}
}

func (b *Backoff) steps() *backoff.ExponentialBackOff {
	initial := max(b.Initial, time.Millisecond)
	return &backoff.ExponentialBackOff{InitialInterval: initial, RandomizationFactor: 0, Multiplier: 2,
		MaxInterval: max(b.Max, initial)}
}

// Next returns the delay before the next retry and advances the sequence.
func (b *Backoff) Next() time.Duration {
	if b.exp == nil {
		b.exp = b.steps()
	}
	return b.spread(b.exp.NextBackOff())
}

// Reset starts the sequence again (after a success).
func (b *Backoff) Reset() {
	if b.exp != nil {
		b.exp.Reset()
	}
}

// Delay returns the delay before retry number attempt (1 for the first
// retry) without touching the sequence: for loops that keep their count
// elsewhere, as the relay keeps it in the request.
func (b *Backoff) Delay(attempt int) time.Duration {
	exp := b.steps()
	exp.Reset()
	step := exp.NextBackOff()
	// 64 doublings exceed any cap; the library stops at the cap anyway.
	for i := 1; i < min(attempt, 64); i++ {
		step = exp.NextBackOff()
	}
	return b.spread(step)
}

func (b *Backoff) spread(step time.Duration) time.Duration {
	j := min(max(b.Jitter, 0), 1)
	if j == 0 {
		return step
	}
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	f := min(max(r(), 0), 1)
	return time.Duration(float64(step) * (1 - j + 2*j*f))
}

// Sleep waits d or until ctx ends, and reports whether the full d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
