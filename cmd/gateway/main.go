// Command gateway serves the portal's HTTP API on a real Redis and talks
// to a SHEP bus over HTTP: accounts, catalogue, signed submissions, the
// outbox relay, the consumer of providers' answers and the personal cabinet.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"egov/gateway"
	"egov/internal/corpus"
	"egov/internal/httpguard"
	"egov/internal/ops"
	"egov/internal/redisconn"
	"egov/internal/settings"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(settings.ExitCode(err))
	}
}

// program is how the portal reads its settings: a flag not given takes
// EGOV_GATEWAY_<FLAG>, or the variable the stack's programs share for it.
var program = settings.Program{
	Prefix: "EGOV_GATEWAY_",
	Vars: map[string]string{
		"bus":             "EGOV_SHEP_URL",
		"sender":          "EGOV_SHEP_SENDER",
		"sender-password": "EGOV_SHEP_PASSWORD",
		"provider-bin":    "EGOV_PROVIDER_BIN",
		"metrics-listen":  "EGOV_GATEWAY_METRICS",
	},
	Required: []string{"redis", "sender-password", "trust"},
	Checks: []settings.Check{{Flag: "listen", Valid: settings.Address}, {Flag: "signer-url", Valid: settings.WebSocketURL}, {Flag: "metrics-listen", Valid: settings.Address},
		{Flag: "bus", Valid: settings.HTTPURL}, {Flag: "ocsp", Valid: settings.HTTPURL},
		{Flag: "attempts-per-minute", Valid: settings.Positive}, {Flag: "log-level", Valid: settings.OneOf("debug", "info", "warn", "error")}},
}

func run() error {
	var (
		listen      = flag.String("listen", "127.0.0.1:8080", "address to serve on: the citizen's pages at /, the API at /api/v1")
		signerURL   = flag.String("signer-url", "wss://127.0.0.1:13579", "where the pages find NCALayer on the citizen's computer")
		secure      = flag.Bool("secure-cookies", false, "mark the pages' cookies Secure: the portal is reached over TLS (a proxy in front)")
		redisURL    = flag.String("redis", "", "Redis URL")
		keyPrefix   = flag.String("key-prefix", "", "prefix of every Redis key (to share a Redis)")
		waitN       = flag.Int("redis-wait-replicas", 0, "replicas that must acknowledge a write the product answers accepted for (Redis WAIT; 0: none, as before)")
		waitFor     = flag.Duration("redis-wait-timeout", redisconn.DefaultWaitTimeout, "how long to wait for them before answering unavailable")
		busURL      = flag.String("bus", "http://127.0.0.1:8081", "SHEP bus base URL")
		senderID    = flag.String("sender", "egov-portal", "the portal's senderId on the bus")
		password    = flag.String("sender-password", "", "the portal's bus password")
		trustDir    = flag.String("trust", "", "CA certificates trusted for signatures")
		crl         = flag.String("crl", "", "CRL file or URL (without it and -ocsp, revocation cannot be checked)")
		ocspURL     = flag.String("ocsp", "", "OCSP responder URL, asked before the CRL")
		providerBIN = flag.String("provider-bin", "940140000385", "BIN whose authorised person signs the labour-market system's results")
		deskBIN     = flag.String("regionaldesk-bin", "070540000713", "BIN whose authorised person signs the results of АРМ РШЭП (Karaganda)")
		counterBIN  = flag.String("counter-bin", "160540000019", "BIN whose operators sign what the State Corporation's counter (gk-counter) files for citizens; empty: no counter's filings in the cabinets")
		recordDir   = flag.String("record", "", "record every request with its answer into this corpus directory")
		mask        = flag.Bool("mask", false, "with -record: mask IINs, names, phone numbers, certificates and passwords")
		logJSON     = flag.Bool("log-json", false, "log JSON instead of text")
		attempts    = flag.Int64("attempts-per-minute", 20, "logins and registrations one client address may try a minute")
		metricsAt   = flag.String("metrics-listen", "127.0.0.1:9090", "the process's metrics and probes (/metrics, /livez, /readyz) on a listener of their own; empty: none")
		logLevel    = ops.LogLevelFlag(flag.CommandLine)
		limits      = httpguard.Flags(flag.CommandLine)
	)
	program.Describe(flag.CommandLine)
	if err := program.Parse(flag.CommandLine, os.Args[1:]); err != nil {
		return err
	}
	level, err := ops.ParseLevel(*logLevel)
	if err != nil {
		return err
	}
	log := ops.NewLogger(os.Stderr, level, *logJSON)
	rdb, err := redisconn.Open(*redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	verifier, err := signing.Sources{TrustDir: *trustDir, CRL: *crl, OCSPURL: *ocspURL}.Open(ctx, log)
	if err != nil {
		return err
	}
	rev := verifier.Revocation
	bus := &shep.HTTPClient{BaseURL: *busURL}
	app, err := gateway.New(rdb, gateway.Config{KeyPrefix: *keyPrefix,
		Verifier: verifier,
		Bus:      bus, Sender: soap.SenderInfo{SenderID: *senderID, Password: *password},
		ProviderBINs: map[string]string{"ais-rynok-truda": *providerBIN, "arm-rshep": *deskBIN},
		CounterBINs:  counterBINs(*counterBIN),
		Log:          log, AttemptsPerMinute: *attempts,
		Durability: redisconn.Durability{Replicas: *waitN, Timeout: *waitFor},
	})
	if err != nil {
		return err
	}
	// Ready when Redis answers (App.ReadyChecks), the bus is reachable
	// and the revocation list is fresh.
	health := []gateway.HealthCheck{ops.HTTPCheck("bus", *busURL+ops.PathLive, nil)}
	if rev.CRL != nil {
		health = append(health, ops.FreshCheck("revocation", rev.CRL.Fresh))
	}
	metrics := ops.NewRegistry()
	metrics.MustRegister(signing.Collectors()...)
	// The portal's handler registers its HTTP, relay and consumer metrics.
	handler := app.Handler(gateway.HTTPOptions{Health: health, Metrics: metrics, Pages: &gateway.PageOptions{SignerURL: *signerURL, SecureCookies: *secure}})
	if *recordDir != "" {
		rec, err := corpus.NewRecorder(*recordDir, *mask)
		if err != nil {
			return err
		}
		handler = rec.Middleware(corpus.KindPortal, handler)
	}
	log.Info("gateway starting", "redis", redisconn.Describe(rdb), "bus", *busURL, "log_level", level.String())
	workers, stopWorkers := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { app.Run(workers); close(done) }()
	server := func(h http.Handler) *http.Server { return httpguard.Server(h, *limits) }
	metricsDone := ops.ServeAside(ctx, log, 5*time.Second, server,
		ops.Listener{Name: "metrics and probes", Addr: *metricsAt, Handler: ops.Handler(app.ReadyChecks(health...), metrics)})
	err = ops.Serve(ctx, log, 30*time.Second, server, ops.Listener{Name: "portal API", Addr: *listen, Handler: handler})
	stop() // a failed portal listener stops the metrics listener too
	metricsDone()
	// The listeners are drained: no submission is being accepted any more,
	// so the relay and the consumer stop after them.
	stopWorkers()
	<-done
	log.Info("gateway stopped: relay and answer consumer stopped")
	return err
}

// counterBINs is gateway.Config.CounterBINs: the State Corporation's
// counter, unless no BIN is given.
func counterBINs(bin string) map[string]string {
	if bin == "" {
		return nil
	}
	return map[string]string{"gk-counter": bin}
}
