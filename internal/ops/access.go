package ops

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// HeaderRequestID carries a request's id, the caller's or one made up.
const HeaderRequestID = "X-Request-Id"

// AccessLog logs every request of next at INFO once it is answered:
// method, route (the ServeMux pattern that matched, not the raw path with
// its ids), status, duration, bytes written and the request id (the
// caller's X-Request-Id, or a new one, echoed in the answer). The probes
// and /metrics are not logged: they would drown the rest. observe, when
// not nil, is told the same (for metrics).
func AccessLog(log *slog.Logger, next http.Handler, observe func(route string, status int, took time.Duration)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(HeaderRequestID)
		if id == "" || len(id) > 128 {
			id = newID()
		}
		w.Header().Set(HeaderRequestID, id)
		rw := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		took := time.Since(start)
		if observe != nil {
			observe(route, rw.status, took)
		}
		switch r.URL.Path {
		case PathLive, PathReady, PathHealth, PathMetrics:
			return
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "http",
			slog.String("method", r.Method), slog.String("route", route), slog.Int("status", rw.status),
			slog.Duration("duration", took), slog.Int64("bytes", rw.bytes), slog.String("request_id", id))
	})
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recorder notes the status and the bytes of an answer.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (deadlines,
// flushes).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := r.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("ops: the connection cannot be hijacked")
}

// Shutdown stops srv gracefully within timeout and logs what it drained:
// the in-flight requests finished, or that the timeout cut them.
func Shutdown(log *slog.Logger, name string, srv *http.Server, timeout time.Duration) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		log.Warn("listener stopped before its requests finished", "listener", name, "addr", srv.Addr, "after", time.Since(start).Round(time.Millisecond), "err", err)
		return
	}
	log.Info("listener stopped, in-flight requests finished", "listener", name, "addr", srv.Addr, "took", time.Since(start).Round(time.Millisecond))
}
