package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/semaphore"

	"egov"
)

// admission lets a bounded number of submissions through at once and
// bounds the bytes they hold by what actually arrived: each chunk of a
// body is admitted as it is read, from the portal's budget and from its
// citizen's share of it. A submission that finds no room waits a little,
// then is refused (503 service-unavailable, or 429 rate-limited when it is
// the citizen's own share that is full), with Retry-After.
type admission struct {
	slots      chan struct{}
	budget     *semaphore.Weighted
	share      int64
	perCitizen int
	wait       time.Duration

	mu       sync.Mutex
	citizens map[string]*citizenLoad
}

type citizenLoad struct {
	submissions int
	bytes       int64
}

func newAdmission(opt HTTPOptions) *admission {
	ad := &admission{wait: opt.SubmissionQueueWait, perCitizen: opt.CitizenSubmissions, citizens: map[string]*citizenLoad{}}
	max, total := opt.MaxSubmissions, opt.MaxSubmissionBytes
	if max <= 0 {
		max = 256
	}
	if total <= 0 {
		total = 256 << 20
	}
	if ad.wait <= 0 {
		ad.wait = 2 * time.Second
	}
	if ad.perCitizen <= 0 {
		ad.perCitizen = 32
	}
	ad.share = opt.CitizenShare
	if ad.share <= 0 {
		ad.share = total / 4
	}
	ad.slots = make(chan struct{}, max)
	ad.budget = semaphore.NewWeighted(total)
	return ad
}

func unavailable(format string, args ...any) error {
	err := egov.Errorf(egov.CodeUnavailable, format, args...)
	err.RetryAfter = time.Second
	return err
}

func (ad *admission) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		iin := sessionOf(c).IIN
		if !ad.enter(iin) {
			err := egov.Errorf(egov.CodeRateLimited, "more than %d submissions of one citizen at once", ad.perCitizen)
			err.RetryAfter = time.Second
			return err
		}
		defer ad.leave(iin)
		ctx, cancel := context.WithTimeout(r.Context(), ad.wait)
		defer cancel()
		select {
		case ad.slots <- struct{}{}:
		case <-ctx.Done():
			if r.Context().Err() != nil {
				return r.Context().Err()
			}
			return unavailable("%d submissions in progress", cap(ad.slots))
		}
		defer func() { <-ad.slots }()
		body := &admittedBody{body: r.Body, ad: ad, iin: iin, ctx: r.Context()}
		defer body.release()
		r.Body = body
		return next(c)
	}
}

func (ad *admission) enter(iin string) bool {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	l := ad.citizens[iin]
	if l == nil {
		l = &citizenLoad{}
		ad.citizens[iin] = l
	}
	if l.submissions >= ad.perCitizen {
		return false
	}
	l.submissions++
	return true
}

func (ad *admission) leave(iin string) {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	if l := ad.citizens[iin]; l != nil {
		if l.submissions--; l.submissions == 0 && l.bytes == 0 {
			delete(ad.citizens, iin)
		}
	}
}

// take admits n more bytes of iin's submission, waiting up to the
// admission's wait for the portal's budget.
func (ad *admission) take(ctx context.Context, iin string, n int64) error {
	ad.mu.Lock()
	l := ad.citizens[iin]
	if l.bytes+n > ad.share {
		ad.mu.Unlock()
		err := egov.Errorf(egov.CodeRateLimited, "one citizen's submissions hold more than %d bytes", ad.share)
		err.RetryAfter = time.Second
		return err
	}
	l.bytes += n
	ad.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, ad.wait)
	defer cancel()
	if err := ad.budget.Acquire(ctx, n); err != nil {
		ad.give(iin, n, false)
		return unavailable("submissions hold the whole byte budget")
	}
	return nil
}

// give returns n bytes of iin's, to the budget too when they were taken
// from it.
func (ad *admission) give(iin string, n int64, fromBudget bool) {
	if fromBudget {
		ad.budget.Release(n)
	}
	ad.mu.Lock()
	defer ad.mu.Unlock()
	if l := ad.citizens[iin]; l != nil {
		l.bytes -= n
	}
}

// admittedBody admits each chunk of a body as it arrives and gives all of
// it back when the submission ends.
type admittedBody struct {
	body io.ReadCloser
	ad   *admission
	iin  string
	ctx  context.Context
	held int64
	err  error
}

func (b *admittedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.body.Read(p)
	if n > 0 {
		if aerr := b.ad.take(b.ctx, b.iin, int64(n)); aerr != nil {
			b.err = aerr
			return 0, aerr
		}
		b.held += int64(n)
	}
	return n, err
}

func (b *admittedBody) Close() error { return b.body.Close() }

func (b *admittedBody) release() {
	if b.held > 0 {
		b.ad.give(b.iin, b.held, true)
		b.held = 0
	}
}

// readRefusal is the refusal of a body read that failed before the body
// was in: stopped by admission or by the slow-body guard (their own
// codes), over its size limit (body-too-large), or timed out on the
// connection (request-timeout). It reports false for any other error,
// which the caller words for its format.
func readRefusal(err error) (error, bool) {
	switch egov.ErrorCode(err) {
	case egov.CodeUnavailable, egov.CodeRateLimited, egov.CodeRequestTimeout:
		return err, true
	}
	var tooLarge *http.MaxBytesError
	var he *echo.HTTPError
	var ne net.Error
	switch {
	case errors.As(err, &tooLarge), errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge:
		return egov.Errorf(egov.CodeBodyTooLarge, "body"), true
	case errors.As(err, &ne) && ne.Timeout():
		return egov.Errorf(egov.CodeRequestTimeout, "body read timed out"), true
	}
	return nil, false
}
