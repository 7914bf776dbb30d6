package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"egov/internal/redistest"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestDemoAgainstUp starts the whole stack in process on a real Redis and
// runs the citizen's journey against it over HTTP, twice: the second run
// meets an existing account and an existing registration.
func TestDemoAgainstUp(t *testing.T) {
	r := redistest.New(t)
	data := t.TempDir()
	portal, bus, ocsp := freeAddr(t), freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"up", "--data", data, "--listen", portal, "--bus-listen", bus, "--ocsp-listen", ocsp,
			"--redis", r.URL, "--key-prefix", r.Prefix,
			"--routing", filepath.Join("..", "..", "fixtures", "shep", "routing.json"),
			"--persons", filepath.Join("..", "..", "fixtures", "gbdfl", "persons.json")}, &out, &out)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("up exited %d:\n%s", code, out.String())
		}
	}()
	waitUp(t, portal, &out)
	for round := 1; round <= 2; round++ {
		var demoOut, demoErr bytes.Buffer
		code := run(context.Background(), []string{"demo", "--gateway", "http://" + portal, "--data", data, "--timeout", "30s"}, &demoOut, &demoErr)
		if code != 0 || !strings.Contains(demoOut.String(), "The whole journey worked.") {
			t.Fatalf("demo round %d: exit %d\n%s%s\nup:\n%s", round, code, demoOut.String(), demoErr.String(), out.String())
		}
		want := map[int]string{1: "finished: completed (registered)", 2: "finished: refused (refused)"}[round]
		if !strings.Contains(demoOut.String(), want) {
			t.Fatalf("demo round %d lacks %q:\n%s", round, want, demoOut.String())
		}
	}
}

func waitUp(t *testing.T, addr string, out *syncBuffer) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the stack did not come up:\n%s", out.String())
}
