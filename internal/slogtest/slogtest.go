// Package slogtest records what code under test logs, so that a test can
// assert that nothing was logged at WARN or above, or grep the lines.
// Only tests import it.
package slogtest

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
)

// Recorder is a slog.Handler that keeps every record as a text line.
type Recorder struct {
	mu    *sync.Mutex
	buf   *bytes.Buffer
	warns *[]string
	h     slog.Handler
}

// New returns a recorder of records at level and above, and its logger.
func New(level slog.Level) (*Recorder, *slog.Logger) {
	r := &Recorder{mu: &sync.Mutex{}, buf: &bytes.Buffer{}, warns: new([]string)}
	r.h = slog.NewTextHandler(r.buf, &slog.HandlerOptions{Level: level})
	return r, slog.New(r)
}

func (r *Recorder) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r *Recorder) Handle(ctx context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := r.buf.Len()
	err := r.h.Handle(ctx, rec)
	if rec.Level >= slog.LevelWarn {
		*r.warns = append(*r.warns, strings.TrimSpace(r.buf.String()[start:]))
	}
	return err
}

func (r *Recorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *r
	c.h = r.h.WithAttrs(as)
	return &c
}

func (r *Recorder) WithGroup(name string) slog.Handler {
	c := *r
	c.h = r.h.WithGroup(name)
	return &c
}

// Warnings returns the lines logged at WARN or above.
func (r *Recorder) Warnings() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), *r.warns...)
}

// String returns everything logged.
func (r *Recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}
