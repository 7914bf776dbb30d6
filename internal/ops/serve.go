package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Listener is one HTTP listener of a process; an empty Addr is none.
type Listener struct {
	Name, Addr string
	Handler    http.Handler
}

// Serve listens on every listener, logs at INFO what listens where, serves
// until ctx ends or one of them fails, then stops each gracefully within
// grace (ops.Shutdown: in-flight requests finish, and the log says so).
// newServer makes the server of a handler (httpguard.Server with the
// process's limits); nil means a plain http.Server. It returns the first
// failure, of a listen or a serve.
func Serve(ctx context.Context, log *slog.Logger, grace time.Duration, newServer func(http.Handler) *http.Server, ls ...Listener) error {
	if newServer == nil {
		newServer = func(h http.Handler) *http.Server {
			return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		}
	}
	type served struct {
		Listener
		srv *http.Server
		ln  net.Listener
	}
	var all []served
	for _, l := range ls {
		if l.Addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			for _, s := range all {
				_ = s.ln.Close()
			}
			return fmt.Errorf("%s: %w", l.Name, err)
		}
		srv := newServer(l.Handler)
		srv.Addr = ln.Addr().String()
		all = append(all, served{l, srv, ln})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(all))
	var wg sync.WaitGroup
	for _, s := range all {
		log.Info("listening", "listener", s.Name, "addr", s.srv.Addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("%s: %w", s.Name, err)
				cancel()
			}
		}()
	}
	<-ctx.Done()
	log.Info("shutting down: draining the listeners", "grace", grace)
	var stop sync.WaitGroup
	for _, s := range all {
		stop.Add(1)
		go func() { defer stop.Done(); Shutdown(log, s.Name, s.srv, grace) }()
	}
	stop.Wait()
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// ServeAside serves a secondary listener (metrics and probes) like Serve,
// in the background: a failure to listen or serve is logged at ERROR and
// does not stop the process, whose work does not depend on it (two stacks
// on one machine may well want the same default port). The returned
// function waits until it stopped, after ctx ended.
func ServeAside(ctx context.Context, log *slog.Logger, grace time.Duration, newServer func(http.Handler) *http.Server, l Listener) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := Serve(ctx, log, grace, newServer, l); err != nil {
			log.Error("listener failed; the process runs without it", "listener", l.Name, "addr", l.Addr, "err", err)
		}
	}()
	return func() { <-done }
}
