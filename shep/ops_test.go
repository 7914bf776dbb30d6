package shep_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"egov/internal/ops"
	"egov/internal/promtest"
	"egov/internal/redisconn"
	"egov/internal/slogtest"
	"egov/shep"
)

func probeBus(t *testing.T, h http.Handler, path string) (int, ops.Report) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var rep ops.Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("%s: %d %s: %v", path, rec.Code, rec.Body, err)
	}
	return rec.Code, rep
}

func TestBusProbesAndAccessLog(t *testing.T) {
	rec, log := slogtest.New(slog.LevelInfo)
	stale := false
	f := newBus(t, func(c *shep.Config) {
		c.Log = log
		c.Ready = []ops.Check{{Name: "revocation", Check: func(context.Context) error {
			if stale {
				return errors.New("crl: a list went stale")
			}
			return nil
		}}}
	})
	h := f.bus.Handler()
	for _, path := range []string{"/readyz", "/healthz"} {
		if code, rep := probeBus(t, h, path); code != 200 || rep.Status != "ready" || rep.Checks["redis"].Status != "ok" {
			t.Fatalf("%s: %d %+v", path, code, rep)
		}
	}
	stale = true
	if code, rep := probeBus(t, h, "/readyz"); code != 503 || rep.Checks["revocation"].Status != "failing" {
		t.Fatalf("readyz, stale revocation: %d %+v", code, rep)
	}
	if code, rep := probeBus(t, h, "/livez"); code != 200 || rep.Status != "live" {
		t.Fatalf("livez: %d %+v", code, rep)
	}
	// A SOAP request through HTTP is logged at INFO by route.
	srv := httptest.NewServer(h)
	defer srv.Close()
	send(t, &shep.HTTPClient{BaseURL: srv.URL}, portal, svcOpen, "<D/>")
	if l := rec.String(); !strings.Contains(l, `msg=http method=POST route="POST /shep/async" status=200`) || strings.Contains(l, "livez") {
		t.Fatalf("access log:\n%s", l)
	}
	fams := promtest.Scrape(t, f.bus.MetricsHandler())
	for name, typ := range map[string]string{
		"egov_bus_messages_sent_total":           "COUNTER",
		"egov_bus_queue_depth":                   "GAUGE",
		"egov_bus_queue_leased":                  "GAUGE",
		"egov_bus_queue_oldest_age_seconds":      "GAUGE",
		"egov_bus_dead_letters":                  "GAUGE",
		"egov_bus_http_requests_total":           "COUNTER",
		"egov_bus_http_request_duration_seconds": "HISTOGRAM",
		"go_goroutines":                          "GAUGE",
	} {
		if got := fams.Type(name); got != typ {
			t.Errorf("%s: %q, want %s", name, got, typ)
		}
	}
	if v, _ := fams.Value("egov_bus_queue_depth", "recipient", "ais-rynok-truda"); v != 1 {
		t.Errorf("depth %v", v)
	}
	if v, _ := fams.Value("egov_bus_http_requests_total", "route", "POST /shep/async", "status", "200"); v != 1 {
		t.Errorf("http requests %v", v)
	}
	// The metrics listener has the probes too.
	if code, _ := probeBus(t, f.bus.MetricsHandler(), "/livez"); code != 200 {
		t.Errorf("livez on the metrics listener: %d", code)
	}
}

func TestBusNotReadyWithoutRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rdb, err := redisconn.Open("redis://" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	bus, err := shep.New(rdb, testRouting(t), shep.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if code, rep := probeBus(t, bus.Handler(), "/readyz"); code != 503 || rep.Status != "not-ready" || rep.Checks["redis"].Status != "failing" {
		t.Fatalf("readyz without Redis: %d %+v", code, rep)
	}
	if code, _ := probeBus(t, bus.Handler(), "/livez"); code != 200 {
		t.Fatalf("livez without Redis: %d", code)
	}
	// A scrape without Redis leaves the queue gauges out, and does not hang.
	fams := promtest.Scrape(t, bus.MetricsHandler())
	if _, ok := fams.Value("egov_bus_queue_depth"); ok {
		t.Error("queue depth reported without Redis")
	}
}
