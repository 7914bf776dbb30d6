package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"egov/gateway"
	"egov/internal/ops"
	"egov/internal/promtest"
	"egov/internal/redisconn"
	"egov/signing"
)

func probe(t *testing.T, h http.Handler, path string) (int, ops.Report) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Body)
	var rep ops.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("%s: %d %s: %v", path, rec.Code, body, err)
	}
	return rec.Code, rep
}

func TestProbes(t *testing.T) {
	e := newEnv(t)
	trust, err := signing.LoadTrustDir("../fixtures/pki/trust")
	if err != nil {
		t.Fatal(err)
	}
	crl := &signing.CRLSet{Sources: []string{"../fixtures/pki/crl.pem"}, Trust: trust}
	if err := crl.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	revocationAt := time.Now()
	revocation := gateway.HealthCheck{Name: "revocation", Check: func(context.Context) error { return crl.Fresh(revocationAt) }}
	h := conformance(t, e.app.Handler(gateway.HTTPOptions{Health: []gateway.HealthCheck{revocation}}))
	// The fixture CRL's validity: find a moment it is fresh.
	if crl.Fresh(revocationAt) != nil {
		revocationAt = time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
		if err := crl.Fresh(revocationAt); err != nil {
			t.Fatalf("the fixture CRL is fresh at no moment tried: %v", err)
		}
	}
	if code, rep := probe(t, h, "/livez"); code != 200 || rep.Status != "live" {
		t.Fatalf("livez %d %+v", code, rep)
	}
	for _, path := range []string{"/readyz", "/healthz"} {
		code, rep := probe(t, h, path)
		if code != 200 || rep.Status != "ready" || rep.Checks["redis"].Status != "ok" || rep.Checks["revocation"].Status != "ok" {
			t.Fatalf("%s %d %+v", path, code, rep)
		}
	}
	// Stale revocation data: not ready, and which check says so.
	revocationAt = revocationAt.AddDate(100, 0, 0)
	code, rep := probe(t, h, "/readyz")
	if code != 503 || rep.Status != "not-ready" || rep.Checks["revocation"].Status != "failing" || rep.Checks["revocation"].Error != "" ||
		rep.Checks["redis"].Status != "ok" {
		t.Fatalf("readyz with a stale CRL: %d %+v", code, rep)
	}
	if code, _ := probe(t, h, "/livez"); code != 200 {
		t.Fatalf("livez with a stale CRL: %d", code)
	}
}

// A portal whose Redis is unreachable is alive and not ready.
func TestNotReadyWithoutRedis(t *testing.T) {
	ln := closedPort(t)
	rdb, err := redisconn.Open("redis://" + ln + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	app, err := gateway.New(rdb, gateway.Config{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	h := conformance(t, app.Handler(gateway.HTTPOptions{}))
	if code, _ := probe(t, h, "/livez"); code != 200 {
		t.Fatalf("livez: %d", code)
	}
	code, rep := probe(t, h, "/readyz")
	if code != 503 || rep.Status != "not-ready" || rep.Checks["redis"].Status != "failing" {
		t.Fatalf("readyz without Redis: %d %+v", code, rep)
	}
	// The public port says what fails, not why: the error names Redis's
	// address. The operations listener tells operators.
	if e := rep.Checks["redis"].Error; e != "" {
		t.Errorf("the public readyz shows the error %q", e)
	}
	code, rep = probe(t, ops.Handler(app.ReadyChecks(), nil), "/readyz")
	if code != 503 || !strings.Contains(rep.Checks["redis"].Error, ln) {
		t.Fatalf("the operations listener's readyz without Redis: %d %+v", code, rep)
	}
}

// TestMethodLabelIsBounded: a client may send any method token; each must
// not become a series of its own.
func TestMethodLabelIsBounded(t *testing.T) {
	e := newEnv(t)
	reg := ops.NewRegistry()
	h := e.app.Handler(gateway.HTTPOptions{Metrics: reg})
	for i := range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(fmt.Sprintf("BREW%d", i), "/api/v1/catalogue", nil))
	}
	fams := promtest.Scrape(t, gateway.MetricsHandler(reg))
	for i := range 3 {
		if _, ok := fams.Value("egov_portal_http_requests_total", "method", fmt.Sprintf("BREW%d", i)); ok {
			t.Errorf("method BREW%d became a label value", i)
		}
	}
	var other float64
	for _, status := range []string{"404", "405"} {
		for _, route := range []string{"/api/v1/catalogue", "unmatched"} {
			v, _ := fams.Value("egov_portal_http_requests_total", "method", "other", "route", route, "status", status)
			other += v
		}
	}
	if other != 3 {
		t.Errorf("%v requests counted as method other, want 3", other)
	}
}

func TestMetricsNamesAndBacklog(t *testing.T) {
	e := newEnv(t)
	reg := ops.NewRegistry()
	h := e.app.Handler(gateway.HTTPOptions{Metrics: reg})
	metrics := gateway.MetricsHandler(reg)
	probe(t, h, "/livez")
	fams := promtest.Scrape(t, metrics)
	for name, typ := range map[string]string{
		"egov_portal_http_requests_total":              "COUNTER",
		"egov_portal_http_request_duration_seconds":    "HISTOGRAM",
		"egov_portal_relay_backlog":                    "GAUGE",
		"egov_portal_relay_backlog_oldest_age_seconds": "GAUGE",
		"go_goroutines":                                "GAUGE",
		"process_cpu_seconds_total":                    "COUNTER",
	} {
		if got := fams.Type(name); got != typ {
			t.Errorf("%s: type %q, want %s", name, got, typ)
		}
	}
	if v, ok := fams.Value("egov_portal_http_requests_total", "route", "/livez", "status", "200", "method", "GET"); !ok || v != 1 {
		t.Errorf("livez not counted: %v %v", v, ok)
	}
	if v, _ := fams.Value("egov_portal_relay_backlog"); v != 0 {
		t.Fatalf("backlog of an idle portal: %v", v)
	}

	// The bus goes down: the accepted request waits, and the backlog says so.
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	e.switch_.SetDown(true)
	doc, id := requestDoc(t, "citizen", citizenIIN, e.clock.Now(), []file{idScan}, nil)
	if code := e.submit(token, doc, []file{idScan}, nil); code != http.StatusAccepted {
		t.Fatalf("submit while the bus is down: %d", code)
	}
	var failed float64
	for i := 0; i < 300 && failed == 0; i++ {
		time.Sleep(10 * time.Millisecond)
		failed, _ = promtest.Scrape(t, metrics).Value("egov_portal_relay_attempts_total", "outcome", "failed")
	}
	fams = promtest.Scrape(t, metrics)
	if v, _ := fams.Value("egov_portal_relay_backlog"); v != 1 {
		t.Fatalf("backlog with the bus down: %v", v)
	}
	if v, ok := fams.Value("egov_portal_relay_backlog_oldest_age_seconds"); !ok || v < 0 || v > 60 {
		t.Fatalf("oldest age with the bus down: %v %v", v, ok)
	}
	e.switch_.SetDown(false)
	e.waitState(token, id, gateway.StateRelayed)
	var backlog float64 = 1
	for i := 0; i < 300 && backlog != 0; i++ {
		backlog, _ = promtest.Scrape(t, metrics).Value("egov_portal_relay_backlog")
		time.Sleep(10 * time.Millisecond)
	}
	fams = promtest.Scrape(t, metrics)
	if backlog != 0 {
		t.Fatalf("backlog after the bus came back: %v", backlog)
	}
	if v, _ := fams.Value("egov_portal_relay_attempts_total", "outcome", "relayed"); v != 1 {
		t.Fatalf("relayed: %v", v)
	}
	// The provider answers; the consumer files it and counts it.
	e.provider("registered")
	var filed float64
	for i := 0; i < 300 && filed == 0; i++ {
		filed, _ = promtest.Scrape(t, metrics).Value("egov_portal_answers_consumed_total", "outcome", "filed")
		time.Sleep(10 * time.Millisecond)
	}
	if filed == 0 {
		t.Fatal("filed answers not counted")
	}
	// The same registry on a second handler (one process, one endpoint)
	// does not panic on the collectors registered already.
	_ = e.app.Handler(gateway.HTTPOptions{Metrics: reg})
	var _ prometheus.Gatherer = reg
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// The runtime's profiles are on the operators' listener only, never on the
// portal's public port.
func TestProfilesAreNotPublic(t *testing.T) {
	e := newEnv(t)
	var p problem
	if code, _ := e.call("GET", "/debug/pprof/", "", nil, &p); code != http.StatusNotFound {
		t.Fatalf("/debug/pprof/ on the public port: %d", code)
	}
}
