package loadgen

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lockedBuffer is a writer the progress goroutine and the test share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func runProgress(t *testing.T, w *lockedBuffer, terminal *bool) {
	t.Helper()
	var sent, accepted atomic.Int64
	counts := func() (int64, int64) { return sent.Load(), accepted.Load() }
	p := StartProgress(w, time.Now(), 200*time.Millisecond, counts, ProgressOptions{Terminal: terminal, Interval: 30 * time.Millisecond, Refresh: 20 * time.Millisecond})
	for i := 0; i < 10; i++ {
		sent.Add(3)
		accepted.Add(2)
		time.Sleep(20 * time.Millisecond)
	}
	p.Stop()
	p.Stop() // twice is harmless
}

// TestProgressPlainLinesOffTerminal: a writer that is no terminal (a CI
// log) gets whole lines, each ended by a newline, and no carriage return.
func TestProgressPlainLinesOffTerminal(t *testing.T) {
	var w lockedBuffer
	if IsTerminal(&w) {
		t.Fatal("a buffer taken for a terminal")
	}
	runProgress(t, &w, nil) // detected
	out := w.String()
	if strings.ContainsAny(out, "\r\x1b") {
		t.Fatalf("carriage returns or escapes in a log:\n%q", out)
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("the last line is not ended:\n%q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("%d lines in 200 ms at one every 30 ms:\n%s", len(lines), out)
	}
	last := lines[len(lines)-1]
	if !strings.Contains(last, "100%") || !strings.Contains(last, "sent 30  accepted 20") {
		t.Fatalf("last line %q", last)
	}
}

// TestProgressLiveBarOnTerminal: on a terminal the bar redraws its line
// and ends it when stopped.
func TestProgressLiveBarOnTerminal(t *testing.T) {
	var w lockedBuffer
	yes := true
	runProgress(t, &w, &yes)
	out := w.String()
	if strings.Count(out, "\r") < 2 || !strings.HasSuffix(out, "\n") || !strings.Contains(out, "sent 30  accepted 20") {
		t.Fatalf("live bar:\n%q", out)
	}
}
