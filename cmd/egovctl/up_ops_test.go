package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"egov/gateway"
	"egov/internal/ops"
	"egov/internal/promtest"
	"egov/internal/slogtest"
	"egov/labour"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

// The operations listener of egovctl up on the embedded Redis: one
// metrics endpoint with every part's names, and the probes.
func TestUpOpsListener(t *testing.T) {
	m := miniredis.RunT(t)
	rdb, err := upEmbeddedClient(m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if o := rdb.(*redis.Client).Options(); o.ReadTimeout != time.Second || !o.ContextTimeoutEnabled {
		t.Fatalf("the embedded Redis's client has the library's defaults: %+v", o)
	}
	if _, err := upLogger(nil, "loud"); err == nil {
		t.Fatal("a bad --log-level was accepted")
	}
	rec, log := slogtest.New(0)
	trust, err := signing.LoadTrustDir("../../fixtures/pki/trust")
	if err != nil {
		t.Fatal(err)
	}
	crl := &signing.CRLSet{Sources: []string{"../../fixtures/pki/crl.pem"}, Trust: trust}
	if err := crl.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	verifier := &signing.Verifier{Trust: trust, Revocation: &signing.Revocation{CRL: crl}}
	routes, err := shep.LoadRouting("../../fixtures/shep/routing.json")
	if err != nil {
		t.Fatal(err)
	}
	bus, err := shep.New(rdb, routes, shep.Config{Verifier: verifier, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	provider, err := signing.LoadSigner("../../fixtures/pki/keys/provider.p12", "Qwerty12")
	if err != nil {
		t.Fatal(err)
	}
	sys, err := labour.New(rdb, labour.Config{Bus: bus, Sender: soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "labour-secret"},
		Signer: provider, Verifier: verifier, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	app, err := gateway.New(rdb, gateway.Config{Verifier: verifier, Bus: bus, Sender: soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	reg := upRegistry(bus, []*labour.System{sys})
	portal := app.Handler(gateway.HTTPOptions{Metrics: reg})
	portal.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/v1/services", nil))
	opsHandler := upOpsHandler(app, crl, reg)

	fams := promtest.Scrape(t, opsHandler)
	for _, name := range []string{"egov_portal_http_requests_total", "egov_portal_relay_backlog", "egov_portal_relay_backlog_oldest_age_seconds",
		"egov_bus_queue_depth", "egov_bus_queue_leased", "egov_bus_dead_letters", "go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("the metrics listener lacks %s", name)
		}
	}
	for _, path := range []string{ops.PathLive, ops.PathReady, ops.PathHealth} {
		w := httptest.NewRecorder()
		opsHandler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		var rep ops.Report
		if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil || w.Code != 200 {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
		if path != ops.PathLive && (rep.Checks["redis"].Status != "ok" || rep.Checks["revocation"].Status != "ok") {
			t.Fatalf("%s: %+v", path, rep)
		}
	}
	if l := rec.String(); !strings.Contains(l, "route=/api/v1/services") {
		t.Errorf("the portal's access log:\n%s", l)
	}
	// The embedded Redis stops: not ready, alive.
	m.Close()
	w := httptest.NewRecorder()
	opsHandler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, ops.PathReady, nil))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"redis":{"status":"failing"`) {
		t.Fatalf("readyz without Redis: %d %s", w.Code, w.Body)
	}
}

func TestUpRedisLabelHidesThePassword(t *testing.T) {
	for url, want := range map[string]string{
		"":                                "embedded (in memory)",
		"redis://:s3cret@10.0.0.5:6380/2": "10.0.0.5:6380 db 2",
		"redis://127.0.0.1:6379/0":        "127.0.0.1:6379 db 0",
		"http://nope":                     "unparsable URL",
	} {
		if got := upRedisLabel(url); got != want {
			t.Errorf("upRedisLabel(%q) = %q, want %q", url, got, want)
		}
	}
}
