package ops

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"egov/internal/loopback"
)

func get(t *testing.T, h http.Handler, path string) (int, http.Header, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, rec.Header(), string(body)
}

func TestProbesHaveOneShape(t *testing.T) {
	failing := errors.New("CRL next update 2026-01-01 passed for 791028302728")
	var fail bool
	checks := []Check{
		{Name: "redis", Check: func(context.Context) error { return nil }},
		{Name: "revocation", Check: func(context.Context) error {
			if fail {
				return failing
			}
			return nil
		}},
	}
	reg := prometheus.NewRegistry()
	h := Handler(checks, reg)

	code, hdr, body := get(t, h, PathLive)
	if code != 200 || hdr.Get("Content-Type") != "application/json" || strings.TrimSpace(body) != `{"status":"live","checks":{}}` {
		t.Fatalf("livez: %d %q", code, body)
	}
	for _, path := range []string{PathReady, PathHealth} {
		code, _, body = get(t, h, path)
		if code != 200 || strings.TrimSpace(body) != `{"status":"ready","checks":{"redis":{"status":"ok"},"revocation":{"status":"ok"}}}` {
			t.Fatalf("%s: %d %s", path, code, body)
		}
	}
	fail = true
	code, hdr, body = get(t, h, PathReady)
	var rep Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatal(err)
	}
	if code != 503 || hdr.Get("Retry-After") == "" || rep.Status != StatusNoReady || rep.Checks["redis"].Status != StatusOK ||
		rep.Checks["revocation"].Status != StatusFailing || !strings.Contains(rep.Checks["revocation"].Error, "7910******28") {
		t.Fatalf("readyz with a failing check: %d %s", code, body)
	}
	// Alive all the same.
	if code, _, _ := get(t, h, PathLive); code != 200 {
		t.Fatalf("livez with a failing dependency: %d", code)
	}
	if code, _, _ := get(t, h, PathMetrics); code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	if code, _, _ := get(t, Handler(checks, nil), PathMetrics); code != 404 {
		t.Fatalf("metrics without a registry: %d", code)
	}
}

// A check that hangs is cut at CheckTimeout and reported failing, not
// left to hold the probe.
func TestHangingCheckFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rep, ok := Ready(ctx, []Check{{Name: "bus", Check: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}})
	if ok || rep.Checks["bus"].Status != StatusFailing {
		t.Fatalf("hanging check: %+v", rep)
	}
}

func TestHTTPCheck(t *testing.T) {
	srv := httptest.NewServer(Handler(nil, nil))
	defer srv.Close()
	if err := HTTPCheck("bus", srv.URL+PathLive, nil).Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := HTTPCheck("bus", srv.URL+"/nothing", nil).Check(context.Background()); err == nil {
		t.Fatal("a 404 passed")
	}
	srv.Close()
	if err := HTTPCheck("bus", srv.URL+PathLive, nil).Check(context.Background()); err == nil {
		t.Fatal("a closed listener passed")
	}
}

func TestMaskIINs(t *testing.T) {
	for in, want := range map[string]string{
		"791028302728":                          "7910******28",
		"iin=791028302728 bin=940140000385":     "iin=7910******28 bin=9401******85",
		"gw:{791028302728}:outbox":              "gw:{7910******28}:outbox",
		"/requests/x791028302728y":              "/requests/x7910******28y",
		"1764635000000-0 and 79102830272 and 7": "1764635000000-0 and 79102830272 and 7",
		"ИИН791028302728, телефон +77011234567": "ИИН7910******28, телефон +77011234567",
		"": "",
	} {
		if got := MaskIINs(in); got != want {
			t.Errorf("MaskIINs(%q) = %q, want %q", in, got, want)
		}
	}
}

type ref struct{ iin string }

func (r ref) String() string { return r.iin + "/req-1" }

func TestLoggerMasksEveryValue(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		var b strings.Builder
		log := NewLogger(&b, slog.LevelDebug, asJSON)
		log.Info("citizen 791028302728 registered", "iin", "791028302728", "err", errors.New("key gw:{791028302728}"),
			"ref", ref{"791028302728"}, "raw", []byte("791028302728"), "n", 791028302728, "any", struct{ IIN string }{"791028302728"})
		log.WithGroup("g").With("iin", "791028302728").Debug("x", slog.Group("h", "iin", "791028302728"))
		if strings.Contains(b.String(), "791028302728") || !strings.Contains(b.String(), "7910******28") {
			t.Fatalf("json=%v: an IIN in full:\n%s", asJSON, b.String())
		}
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("a bad level was accepted")
	}
}

func TestAccessLogNamesTheRouteNotThePath(t *testing.T) {
	var b strings.Builder
	log := NewLogger(&b, slog.LevelInfo, false)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "hello")
	})
	Probes(mux, nil)
	var seen []string
	h := AccessLog(log, mux, func(route string, status int, _ time.Duration) { seen = append(seen, route) })
	req := httptest.NewRequest(http.MethodGet, "/things/791028302728", nil)
	req.Header.Set(HeaderRequestID, "rid-1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	get(t, h, PathLive)
	get(t, h, "/nothing")
	line := b.String()
	for _, want := range []string{"msg=http", "method=GET", `route="GET /things/{id}"`, "status=418", "bytes=5", "request_id=rid-1", "duration="} {
		if !strings.Contains(line, want) {
			t.Errorf("access log lacks %s:\n%s", want, line)
		}
	}
	if strings.Contains(line, "791028302728") || strings.Contains(line, "livez") || !strings.Contains(line, "route=unmatched") {
		t.Errorf("access log:\n%s", line)
	}
	if rec.Header().Get(HeaderRequestID) != "rid-1" || len(seen) != 3 {
		t.Errorf("request id %q, observed %v", rec.Header().Get(HeaderRequestID), seen)
	}
}

func TestServeLogsWhatListensAndWhatWasDrained(t *testing.T) {
	var b syncBuilder
	log := NewLogger(&b, slog.LevelInfo, false)
	started, release := make(chan struct{}), make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	addr := freeAddr(t)
	go func() {
		served <- Serve(ctx, log, 5*time.Second, nil, Listener{"api", addr, slow}, Listener{"none", "", slow})
	}()
	var resp *http.Response
	got := make(chan error, 1)
	go func() {
		var err error
		for i := 0; i < 100; i++ {
			if resp, err = http.Get("http://" + addr + "/"); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		got <- err
	}()
	<-started
	cancel() // a shutdown with a request in flight
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-got; err != nil {
		t.Fatalf("the request in flight was cut: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := <-served; err != nil || string(body) != "done" {
		t.Fatalf("Serve: %v, body %q", err, body)
	}
	l := b.String()
	for _, want := range []string{"msg=listening listener=api addr=" + addr, "msg=\"listener stopped, in-flight requests finished\" listener=api"} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %s:\n%s", want, l)
		}
	}
	if strings.Contains(l, "listener=none") {
		t.Errorf("a listener without an address was started:\n%s", l)
	}
	// A listen that fails is an error.
	if err := Serve(context.Background(), log, time.Second, nil, Listener{"bad", "256.0.0.1:1", slow}); err == nil {
		t.Error("a bad address served")
	}
}

type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuilder) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := loopback.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// A secondary listener that cannot listen is logged, not fatal.
func TestServeAsideLogsAFailedListen(t *testing.T) {
	var b syncBuilder
	log := NewLogger(&b, slog.LevelInfo, false)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	wait := ServeAside(context.Background(), log, time.Second, nil, Listener{"metrics", taken.Addr().String(), http.NotFoundHandler()})
	wait()
	if l := b.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "listener=metrics") {
		t.Fatalf("log:\n%s", l)
	}
}

// The operators' listener serves the runtime's profiles (the public ports
// do not: gateway's TestProfilesAreNotPublic).
func TestProfilesOnTheOperatorsListenerOnly(t *testing.T) {
	operators := httptest.NewServer(Handler(nil, nil))
	defer operators.Close()
	resp, err := http.Get(operators.URL + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("profiles on the operators' listener: %d %.80s", resp.StatusCode, body)
	}
}
