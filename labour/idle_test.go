package labour_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"egov/gateway"
	"egov/internal/ops"
	"egov/internal/promtest"
	"egov/internal/redisconn"
	"egov/internal/redistest"
	"egov/internal/slogtest"
	"egov/labour"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

// countingBus counts the polls that came back, by poller.
type countingBus struct {
	shep.Client
	mu    sync.Mutex
	polls map[string]int
}

func (c *countingBus) GetMessages(ctx context.Context, r *soap.GetMessages) (*soap.GetMessagesResponse, error) {
	resp, err := c.Client.GetMessages(ctx, r)
	if err == nil {
		c.mu.Lock()
		c.polls[r.Request.Sender.SenderID]++
		c.mu.Unlock()
	}
	return resp, err
}

func (c *countingBus) count(sender string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.polls[sender]
}

// An idle stack as egovctl up runs it (the bus in process, the portal's
// relay and consumer, the labour-market system) logs nothing at WARN or
// above, on the embedded Redis and on the real one. Long polls of a
// second are cut into slices of a millisecond and a half, so that a few
// seconds hold the thousands of slices an hour of idling would: before,
// one of them ending under a millisecond before its deadline went out as
// BLOCK 0 and came back as "shep: internal error … i/o timeout" and
// SCE909 about once a minute on the embedded Redis.
func TestIdleStackLogsNothingAboveInfo(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		m := miniredis.RunT(t)
		rdb, err := redisconn.Open("redis://" + m.Addr() + "/0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		idleStack(t, rdb, "")
	})
	t.Run("redis", func(t *testing.T) {
		r := redistest.New(t)
		idleStack(t, r.Client, r.Prefix)
	})
}

func idleStack(t *testing.T, rdb redis.UniversalClient, prefix string) {
	rec, log := slogtest.New(slog.LevelInfo)
	trust, err := signing.LoadTrustDir("../fixtures/pki/trust")
	if err != nil {
		t.Fatal(err)
	}
	crl := &signing.CRLSet{Sources: []string{"../fixtures/pki/crl.pem"}, Trust: trust}
	if err := crl.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	verifier := &signing.Verifier{Trust: trust, Revocation: &signing.Revocation{CRL: crl}}
	routing, err := shep.LoadRouting("../fixtures/shep/routing.json")
	if err != nil {
		t.Fatal(err)
	}
	bus, err := shep.New(rdb, routing, shep.Config{KeyPrefix: prefix, Verifier: verifier, PollSlice: 1500 * time.Microsecond, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	counted := &countingBus{Client: bus, polls: map[string]int{}}
	app, err := gateway.New(rdb, gateway.Config{KeyPrefix: prefix, Verifier: verifier, Bus: counted,
		Sender:       soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"},
		ProviderBINs: map[string]string{"ais-rynok-truda": "940140000385"}, RelayBackoff: 5 * time.Millisecond,
		PollWait: time.Second, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	provider, err := signing.LoadSigner("../fixtures/pki/keys/provider.p12", "Qwerty12")
	if err != nil {
		t.Fatal(err)
	}
	sys, err := labour.New(rdb, labour.Config{Bus: counted, Sender: soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "labour-secret"},
		Signer: provider, Verifier: verifier, KeyPrefix: prefix, PollWait: time.Second, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	reg := ops.NewRegistry()
	reg.MustRegister(bus.Collectors()...)
	reg.MustRegister(sys.Collectors()...)
	portal := httptest.NewServer(app.Handler(gateway.HTTPOptions{Metrics: reg}))
	defer portal.Close()
	metrics := ops.Handler(app.ReadyChecks(), reg)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context){app.Run, sys.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}
	idleFor := 3500 * time.Millisecond
	deadline := time.Now().Add(idleFor)
	for time.Now().Before(deadline) {
		// Probes and scrapes, as an orchestrator and Prometheus would.
		resp, err := http.Get(portal.URL + "/readyz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("readyz: %v %v", resp, err)
		}
		resp.Body.Close()
		promtest.Scrape(t, metrics)
		time.Sleep(250 * time.Millisecond)
	}
	cancel()
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(3 * time.Second):
		t.Fatal("the idle stack did not stop within 3 s of its context ending: a poll is stuck")
	}
	// Polls of a second over 3.5 s: each poller came back at least twice.
	for _, sender := range []string{"egov-portal", "ais-rynok-truda"} {
		if n := counted.count(sender); n < 2 {
			t.Errorf("%s: %d polls came back in %s", sender, n, idleFor)
		}
	}
	if w := rec.Warnings(); len(w) > 0 {
		t.Fatalf("an idle stack logged at WARN or above:\n%v", w)
	}
}
