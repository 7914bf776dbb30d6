// Package httpguard puts budgets on every connection of the programs'
// HTTP servers (the portal, the bus, the simulators' views): how long the
// headers may take, how slowly a body may arrive, how long an answer may
// take to be read, how long an idle connection stays open. A client that
// sends nothing, or a byte a second, holds a connection for seconds, not
// for ever.
package httpguard

import (
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"time"

	"egov"
)

// Limits are the budgets of one server. Zero values take the defaults.
type Limits struct {
	// ReadHeaderTimeout bounds the request line and headers (default 5 s).
	ReadHeaderTimeout time.Duration
	// MinBodyRate is the slowest a body may arrive, in bytes a second, on
	// average since the headers (default 32 KiB/s), after BodyGrace
	// (default 5 s): a 50 MiB upload may take 26 minutes, an empty one 5 s.
	MinBodyRate int64
	BodyGrace   time.Duration
	// WriteTimeout bounds the writing of an answer from its first byte
	// (default 60 s): a client that does not read cannot hold it longer.
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection with no request
	// (default 60 s).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers (default 16 KiB).
	MaxHeaderBytes int
}

// Defaults of Limits.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultMinBodyRate       = 32 << 10
	DefaultBodyGrace         = 5 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 16 << 10
)

func (l Limits) withDefaults() Limits {
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if l.MinBodyRate <= 0 {
		l.MinBodyRate = DefaultMinBodyRate
	}
	if l.BodyGrace <= 0 {
		l.BodyGrace = DefaultBodyGrace
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return l
}

// Flags registers the limits as flags of fs and returns them, filled once
// fs is parsed. Their variables (EGOV_HTTP_HEADER_TIMEOUT, …) are read by
// the program's settings, which refuse a value they cannot read.
func Flags(fs *flag.FlagSet) *Limits {
	l := &Limits{}
	fs.DurationVar(&l.ReadHeaderTimeout, "http-header-timeout", DefaultReadHeaderTimeout, "time a client has to send a request's headers")
	fs.DurationVar(&l.BodyGrace, "http-body-grace", DefaultBodyGrace, "time a body may take before the minimum rate applies")
	fs.DurationVar(&l.WriteTimeout, "http-write-timeout", DefaultWriteTimeout, "time an answer may take to be written once begun")
	fs.DurationVar(&l.IdleTimeout, "http-idle-timeout", DefaultIdleTimeout, "time an idle kept-alive connection stays open")
	fs.Int64Var(&l.MinBodyRate, "http-min-body-rate", DefaultMinBodyRate, "slowest average rate of a request body, bytes a second")
	return l
}

// Server returns an http.Server for h with the limits on every connection.
func Server(h http.Handler, l Limits) *http.Server {
	l = l.withDefaults()
	return &http.Server{
		Handler:           Handler(h, l),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// Handler applies the per-request budgets to h: the body's minimum rate,
// the answer's write deadline, and no keep-alive after a chunked request.
func Handler(h http.Handler, l Limits) http.Handler {
	l = l.withDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if len(r.TransferEncoding) > 0 {
			// Go's server has already dropped a Content-Length sent with
			// the Transfer-Encoding, so the two cannot be told apart here:
			// no chunked request keeps its connection (RFC 9112 §6.1), and
			// whatever was hidden behind its body is never read as a
			// request.
			w.Header().Set("Connection", "close")
		}
		if r.Body != nil && r.Body != http.NoBody {
			g := &slowBodyGuard{body: r.Body, rc: rc, start: time.Now(), rate: l.MinBodyRate, grace: l.BodyGrace}
			// Due at once, before the handler reads: a handler that answers
			// without reading (a refusal) leaves the server to discard the
			// body before it writes the answer, and that read must be
			// bounded too.
			_ = rc.SetReadDeadline(g.due(l.MinBodyRate))
			r.Body = g
		}
		h.ServeHTTP(&writeGuard{ResponseWriter: w, rc: rc, timeout: l.WriteTimeout}, r)
	})
}

// ErrTooSlow is returned by a body read that missed its deadline; it
// carries the code request-timeout.
var ErrTooSlow = egov.Errorf(egov.CodeRequestTimeout, "the request body came slower than the minimum rate")

// IsTooSlow reports whether err is a body that came too slowly.
func IsTooSlow(err error) bool { return errors.Is(err, ErrTooSlow) }

// slowBodyGuard moves the connection's read deadline as the body arrives:
// the next chunk is due by the time the minimum rate allows for all the
// bytes so far and that chunk, so a client may pause but not trickle.
type slowBodyGuard struct {
	body     io.ReadCloser
	rc       *http.ResponseController
	start    time.Time
	rate     int64
	grace    time.Duration
	received int64
	failed   bool
}

func (b *slowBodyGuard) Read(p []byte) (int, error) {
	if b.failed {
		return 0, ErrTooSlow
	}
	// A server without deadlines (an httptest recorder) reports an error
	// here: then nothing is bounded, which only tests see.
	_ = b.rc.SetReadDeadline(b.due(int64(len(p))))
	n, err := b.body.Read(p)
	b.received += int64(n)
	switch {
	case errors.Is(err, io.EOF):
		// The whole body is in. The server now reads the connection in
		// the background to notice a client that goes away, and a read
		// error there cancels the request: the deadline must not outlive
		// the body (what comes next is bounded by the header timeout).
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil && isTimeout(err):
		b.failed = true
		return n, ErrTooSlow
	}
	return n, err
}

func (b *slowBodyGuard) Close() error { return b.body.Close() }

// due is when the next of up to n bytes must have arrived: the next
// arrival is due within a second's worth of the rate, so a large read
// buffer does not buy a slow client more time.
func (b *slowBodyGuard) due(n int64) time.Time {
	next := min(n, b.rate)
	return b.start.Add(b.grace + time.Duration(float64(b.received+next)/float64(b.rate)*float64(time.Second)))
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout() || strings.Contains(err.Error(), "i/o timeout")
}

// writeGuard sets the write deadline when the answer begins, so that the
// time to read the body never counts against it.
type writeGuard struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	started bool
}

func (w *writeGuard) begin() {
	if !w.started {
		w.started = true
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	}
}

func (w *writeGuard) WriteHeader(code int) { w.begin(); w.ResponseWriter.WriteHeader(code) }

func (w *writeGuard) Write(p []byte) (int, error) { w.begin(); return w.ResponseWriter.Write(p) }

// Flush lets long polls and streams push what they have.
func (w *writeGuard) Flush() {
	w.begin()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the connection's writer.
func (w *writeGuard) Unwrap() http.ResponseWriter { return w.ResponseWriter }
