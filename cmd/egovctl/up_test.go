package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
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
// runs the citizen's journey against it over HTTP: twice registering by
// signature (the second run meets an existing account and an existing
// registration), then another citizen registering by the code the SMS
// gateway delivered to her phone.
func TestDemoAgainstUp(t *testing.T) {
	smsView := freeAddr(t)
	portal, data := startUp(t, "--sms-listen", smsView)
	rounds := []struct {
		args []string
		want []string
	}{
		{nil, []string{"identity proven by signature", "finished: completed (registered)"}},
		{nil, []string{"the account exists already", "finished: refused (refused)"}},
		{[]string{"--iin", "050815600217", "--proof", "sms", "--sms", "http://" + smsView},
			[]string{"sent a code to +7 7** *** **77", "identity proven by sms", "finished: completed (registered)"}},
	}
	for i, r := range rounds {
		var demoOut, demoErr bytes.Buffer
		code := run(context.Background(), append([]string{"demo", "--gateway", "http://" + portal, "--data", data, "--timeout", "30s"}, r.args...), &demoOut, &demoErr)
		if code != 0 || !strings.Contains(demoOut.String(), "The whole journey worked.") {
			t.Fatalf("demo round %d: exit %d\n%s%s", i+1, code, demoOut.String(), demoErr.String())
		}
		for _, want := range r.want {
			if !strings.Contains(demoOut.String(), want) {
				t.Fatalf("demo round %d lacks %q:\n%s", i+1, want, demoOut.String())
			}
		}
	}
}

// TestLoadtestAgainstUp drives a small load twice against one stack: each
// run must find exactly one result for each of its requests (the second
// meets the first one's results in the same cabinets) and report its
// floors, before and after, and the stack's CPU and memory.
func TestLoadtestAgainstUp(t *testing.T) {
	portal, data, metrics := startUpWithMetrics(t, "--attempts-per-minute", "100000")
	for round := 1; round <= 2; round++ {
		report := filepath.Join(t.TempDir(), "report.json")
		var out bytes.Buffer
		args := []string{"loadtest", "--gateway", "http://" + portal, "--metrics", "http://" + metrics + "/metrics", "--data", data,
			"--citizens", "3", "--rate", "20", "--duration", "1s", "--result-timeout", "1m", "--json", report}
		if round == 2 {
			// The second run under a hostile background: it must not cost a result.
			args = append(args, "--slow-clients", "5", "--challenge-flood", "50")
		}
		code := run(context.Background(), args, &out, &out)
		if code != 0 {
			t.Fatalf("loadtest round %d: exit %d\n%s", round, code, out.String())
		}
		if round == 2 && !strings.Contains(out.String(), "hostile background:") {
			t.Fatalf("no hostile background reported:\n%s", out.String())
		}
		raw, err := os.ReadFile(report)
		if err != nil {
			t.Fatal(err)
		}
		var rep loadReport
		if err := json.Unmarshal(raw, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Accepted == 0 || rep.Accepted != rep.Sent || rep.Results != rep.Accepted || len(rep.Missing)+len(rep.Duplicated) > 0 {
			t.Fatalf("round %d: sent %d, accepted %d, results %d, missing %v, duplicated %v", round, rep.Sent, rep.Accepted, rep.Results, rep.Missing, rep.Duplicated)
		}
		if rep.Floors.GoxmldsigVerifyPerSecond <= 0 || rep.FloorsAfter.RoundTripRSABound <= 0 || rep.StackCPUPerRequestMs <= 0 || rep.GatewayRSSMB <= 0 {
			t.Fatalf("round %d: floors %+v / %+v, CPU %.2f ms, RSS %.0f MiB", round, rep.Floors, rep.FloorsAfter, rep.StackCPUPerRequestMs, rep.GatewayRSSMB)
		}
	}
}

// startUp runs `egovctl up` in process on a real Redis until the test ends
// and returns the portal's address and the stack's data directory.
func startUp(t *testing.T, flags ...string) (portal, data string) {
	portal, data, _ = startUpWithMetrics(t, flags...)
	return portal, data
}

// startUpWithMetrics is startUp that also returns the metrics listener.
func startUpWithMetrics(t *testing.T, flags ...string) (portal, data, metrics string) {
	t.Helper()
	return startUpOn(t, redistest.New(t), flags...)
}

// startUpOn is startUpWithMetrics on a given Redis.
func startUpOn(t *testing.T, r *redistest.Redis, flags ...string) (portal, data, metrics string) {
	t.Helper()
	portal, data, metrics, _ = startUpLogged(t, r, flags...)
	return portal, data, metrics
}

// startUpLogged is startUpOn that also returns what up writes.
func startUpLogged(t *testing.T, r *redistest.Redis, flags ...string) (portal, data, metrics string, log *syncBuffer) {
	t.Helper()
	data = t.TempDir()
	portal, metrics, log, _ = startUpAt(t, r, data, flags...)
	return portal, data, metrics, log
}

// startUpAt is startUpLogged on a data directory of the caller's; stop
// ends the stack before the test does (the test's end does it otherwise).
func startUpAt(t *testing.T, r *redistest.Redis, data string, flags ...string) (portal, metrics string, log *syncBuffer, stop func()) {
	t.Helper()
	portal, bus, ocsp, smsView, metrics := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int)
	go func() {
		done <- run(ctx, append([]string{"up", "--data", data, "--listen", portal, "--bus-listen", bus, "--ocsp-listen", ocsp, "--sms-listen", smsView, "--metrics-listen", metrics, "--counter-listen", freeAddr(t), "--centre-listen", freeAddr(t),
			"--redis", r.URL, "--key-prefix", r.Prefix,
			"--routing", filepath.Join("..", "..", "fixtures", "shep", "routing.json"),
			"--persons", filepath.Join("..", "..", "fixtures", "gbdfl", "persons.json")}, flags...), out, out)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("up exited %d:\n%s", code, out.String())
			}
		})
	}
	t.Cleanup(stop)
	waitUp(t, portal, out)
	return portal, metrics, out, stop
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

// Slow and idle clients cannot hold the stack `egovctl up` starts: bodies
// that trickle or never come, on the portal's unauthenticated endpoints,
// its submissions and the bus, are cut off by the minimum body rate, and
// the portal answers others meanwhile.
func TestSlowClientsCannotHoldTheStack(t *testing.T) {
	bus := freeAddr(t)
	portal, _ := startUp(t, "--bus-listen", bus, "--http-body-grace", "500ms", "--http-min-body-rate", "1000")
	waitUp(t, bus, &syncBuffer{})
	targets := []struct{ addr, path, contentType string }{
		{portal, "/api/v1/sessions", "application/json"},
		{portal, "/api/v1/sessions/signature", "application/xml"},
		{portal, "/api/v1/requests", "multipart/form-data; boundary=x"},
		{bus, "/shep/async", "text/xml"},
	}
	type held struct {
		conn net.Conn
		what string
	}
	var conns []held
	for _, tg := range targets {
		for i := 0; i < 6; i++ {
			c, err := net.Dial("tcp", tg.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// Declares 50 MiB and sends one byte.
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n{", tg.path, tg.contentType, 50<<20)
			conns = append(conns, held{c, tg.addr + tg.path})
		}
	}
	resp, err := http.Get("http://" + portal + "/api/v1/services")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("catalogue while slow clients wait: %d", resp.StatusCode)
	}
	for _, h := range conns {
		// At 1,000 bytes a second, 50 MiB would take 14 hours.
		_ = h.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		data, err := io.ReadAll(h.conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: the connection was still open after 20 s (got %q)", h.what, data)
		}
	}
}
