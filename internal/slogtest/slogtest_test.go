package slogtest

import (
	"log/slog"
	"strings"
	"testing"
)

func TestRecorderKeepsWarningsApart(t *testing.T) {
	r, log := New(slog.LevelInfo)
	log.Debug("hidden")
	log.Info("started", "addr", "x")
	log.With("part", "bus").Warn("slow", "n", 1)
	log.WithGroup("g").Error("broken")
	if w := r.Warnings(); len(w) != 2 || !strings.Contains(w[0], "part=bus") || !strings.Contains(w[1], "g.") && !strings.Contains(w[1], "broken") {
		t.Fatalf("warnings: %q", w)
	}
	if s := r.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "msg=started addr=x") {
		t.Fatalf("log: %s", s)
	}
}
