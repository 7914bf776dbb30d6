package shep

import (
	"context"
	"errors"
	"sync"
	"time"
)

// groupCommit turns concurrent calls into batches: each caller submits one
// item and waits for its own result, while a single goroutine writes
// whatever has queued up meanwhile in one Redis round trip. Under load a
// batch holds as many items as there are waiting callers, so the cost of a
// round trip (two syscalls here, a script call in Redis) is shared; with a
// single caller it is one round trip as before.
type groupCommit[T, R any] struct {
	flush func(ctx context.Context, items []T) ([]R, error)
	max   int

	reqs   chan *groupRequest[T, R]
	stop   chan struct{}
	closed sync.Once
	done   chan struct{}
}

type groupRequest[T, R any] struct {
	item T
	res  R
	err  error
	done chan struct{}
}

// flushTimeout bounds one batch write.
const flushTimeout = 10 * time.Second

// errClosed is returned for work offered after close.
var errClosed = errors.New("shep: bus closed")

func newGroupCommit[T, R any](max int, flush func(ctx context.Context, items []T) ([]R, error)) *groupCommit[T, R] {
	g := &groupCommit[T, R]{flush: flush, max: max,
		reqs: make(chan *groupRequest[T, R], max), stop: make(chan struct{}), done: make(chan struct{})}
	go g.run()
	return g
}

// do submits one item and waits for its result.
func (g *groupCommit[T, R]) do(ctx context.Context, item T) (R, error) {
	r := &groupRequest[T, R]{item: item, done: make(chan struct{})}
	var zero R
	select {
	case g.reqs <- r:
	case <-g.stop:
		return zero, errClosed
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	// Once queued the item will be written; wait for the outcome even if
	// the caller's context ends, so that an answer is never lost silently.
	<-r.done
	return r.res, r.err
}

// close writes what is queued and stops the writer.
func (g *groupCommit[T, R]) close() {
	g.closed.Do(func() { close(g.stop) })
	<-g.done
}

func (g *groupCommit[T, R]) run() {
	defer close(g.done)
	for {
		var batch []*groupRequest[T, R]
		select {
		case r := <-g.reqs:
			batch = append(batch, r)
		case <-g.stop:
			for {
				select {
				case r := <-g.reqs:
					g.write([]*groupRequest[T, R]{r})
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < g.max {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		g.write(batch)
	}
}

func (g *groupCommit[T, R]) write(batch []*groupRequest[T, R]) {
	items := make([]T, len(batch))
	for i, r := range batch {
		items[i] = r.item
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	res, err := g.flush(ctx, items)
	for i, r := range batch {
		if err != nil {
			r.err = err
		} else {
			r.res = res[i]
		}
		close(r.done)
	}
}
