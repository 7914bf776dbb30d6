// Command gateway serves the portal's HTTP API on a real Redis and talks
// to a SHEP bus over HTTP: accounts, catalogue, signed submissions, the
// outbox relay, the consumer of providers' answers and the personal cabinet.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"egov/gateway"
	"egov/internal/corpus"
	"egov/internal/httpguard"
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
		metricsAt   = flag.String("metrics-listen", env("EGOV_GATEWAY_METRICS", "127.0.0.1:9090"), "Prometheus metrics on a listener of their own; empty: none ($EGOV_GATEWAY_METRICS)")
		limits      = httpguard.Flags(flag.CommandLine)
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *logJSON {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
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
	health := []gateway.HealthCheck{{Name: "bus", Check: func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, *busURL+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("bus health %s", resp.Status)
		}
		return nil
	}}}
	if rev.CRL != nil {
		health = append(health, gateway.HealthCheck{Name: "revocation", Check: func(ctx context.Context) error {
			return rev.CRL.Fresh(time.Now())
		}})
	}
	metrics := prometheus.NewRegistry()
	handler := app.Handler(gateway.HTTPOptions{Health: health, Metrics: metrics})
	if *recordDir != "" {
		rec, err := corpus.NewRecorder(*recordDir, *mask)
		if err != nil {
			return err
		}
		handler = rec.Middleware(corpus.KindPortal, handler)
	}
	srv := httpguard.Server(handler, *limits)
	srv.Addr = *listen
	if *metricsAt != "" {
		go serveMetrics(ctx, *metricsAt, gateway.MetricsHandler(metrics), *limits, log)
	}
	done := make(chan struct{})
	go func() { app.Run(ctx); close(done) }()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Info("gateway listening", "addr", *listen, "bus", *busURL)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-done
	return nil
}

// serveMetrics serves the metrics on their own listener until ctx ends.
func serveMetrics(ctx context.Context, addr string, h http.Handler, limits httpguard.Limits, log *slog.Logger) {
	srv := httpguard.Server(h, limits)
	srv.Addr = addr
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("metrics listener", "addr", addr, "err", err)
	}
}
