// Command gateway serves the portal's HTTP API on a real Redis and talks
// to a SHEP bus over HTTP: accounts, catalogue, signed submissions, the
// outbox relay, the consumer of providers' answers and the personal cabinet.
package main

import (
	"context"
	"errors"
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
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run() error {
	var (
		listen      = flag.String("listen", env("EGOV_GATEWAY_LISTEN", "127.0.0.1:8080"), "address to serve on ($EGOV_GATEWAY_LISTEN)")
		redisURL    = flag.String("redis", env("EGOV_REDIS_URL", ""), "Redis URL ($EGOV_REDIS_URL, required)")
		busURL      = flag.String("bus", env("EGOV_SHEP_URL", "http://127.0.0.1:8081"), "SHEP bus base URL ($EGOV_SHEP_URL)")
		senderID    = flag.String("sender", env("EGOV_SHEP_SENDER", "egov-portal"), "the portal's senderId on the bus ($EGOV_SHEP_SENDER)")
		password    = flag.String("sender-password", env("EGOV_SHEP_PASSWORD", ""), "the portal's bus password ($EGOV_SHEP_PASSWORD)")
		trustDir    = flag.String("trust", env("EGOV_TRUST_DIR", "fixtures/pki/trust"), "CA certificates trusted for signatures ($EGOV_TRUST_DIR)")
		crl         = flag.String("crl", env("EGOV_CRL", "fixtures/pki/crl.pem"), "CRL file or URL ($EGOV_CRL)")
		ocspURL     = flag.String("ocsp", env("EGOV_OCSP_URL", ""), "OCSP responder URL, asked before the CRL ($EGOV_OCSP_URL)")
		providerBIN = flag.String("provider-bin", env("EGOV_PROVIDER_BIN", "940140000385"), "BIN whose authorised person signs the labour-market results ($EGOV_PROVIDER_BIN)")
		recordDir   = flag.String("record", os.Getenv("EGOV_RECORD_DIR"), "record every request with its answer into this corpus directory ($EGOV_RECORD_DIR)")
		mask        = flag.Bool("mask", false, "with -record: mask IINs, names, phone numbers, certificates and passwords")
		logJSON     = flag.Bool("log-json", os.Getenv("EGOV_LOG_JSON") != "", "log JSON instead of text ($EGOV_LOG_JSON)")
		attempts    = flag.Int64("attempts-per-minute", 20, "logins and registrations one client address may try a minute")
		metricsAt   = flag.String("metrics-listen", env("EGOV_GATEWAY_METRICS", "127.0.0.1:9090"), "the process's metrics and probes (/metrics, /livez, /readyz) on a listener of their own; empty: none ($EGOV_GATEWAY_METRICS)")
		logLevel    = ops.LogLevelFlag(flag.CommandLine)
		limits      = httpguard.Flags(flag.CommandLine)
	)
	flag.Parse()
	level, err := ops.ParseLevel(*logLevel)
	if err != nil {
		return err
	}
	log := ops.NewLogger(os.Stderr, level, *logJSON)
	if *redisURL == "" {
		return errors.New("-redis or EGOV_REDIS_URL is required")
	}
	if *password == "" {
		return errors.New("-sender-password or EGOV_SHEP_PASSWORD is required")
	}
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
	app, err := gateway.New(rdb, gateway.Config{
		Verifier: verifier,
		Bus:      bus, Sender: soap.SenderInfo{SenderID: *senderID, Password: *password},
		ProviderBINs: map[string]string{"ais-rynok-truda": *providerBIN, "arm-rshep": *providerBIN},
		Log:          log, AttemptsPerMinute: *attempts,
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
	handler := app.Handler(gateway.HTTPOptions{Health: health, Metrics: metrics})
	if *recordDir != "" {
		rec, err := corpus.NewRecorder(*recordDir, *mask)
		if err != nil {
			return err
		}
		handler = rec.Middleware(corpus.KindPortal, handler)
	}
	log.Info("gateway starting", "redis", rdb.Options().Addr, "bus", *busURL, "log_level", level.String())
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
