// Command shep serves the simulated SHEP bus (ШЭП) over HTTP on a real Redis:
// the asynchronous and synchronous SOAP channels, the attachment store, the
// synchronous services it hosts (the persons register ГБД ФЛ, the mobile
// citizens' register, the SMS gateway), /healthz and /metrics.
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

	"egov/internal/corpus"
	"egov/internal/httpguard"
	"egov/internal/ops"
	"egov/internal/redisconn"
	"egov/registers/mobile"
	"egov/shep"
	"egov/shep/gbdfl"
	"egov/signing"
	"egov/sms"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "shep:", err)
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
		listen        = flag.String("listen", env("EGOV_SHEP_LISTEN", "127.0.0.1:8081"), "address to serve on ($EGOV_SHEP_LISTEN)")
		redisURL      = flag.String("redis", env("EGOV_REDIS_URL", ""), "Redis URL ($EGOV_REDIS_URL, required)")
		routingPath   = flag.String("routing", env("EGOV_SHEP_ROUTING", "fixtures/shep/routing.json"), "routing table ($EGOV_SHEP_ROUTING)")
		persons       = flag.String("persons", env("EGOV_GBDFL_PERSONS", "fixtures/gbdfl/persons.json"), "persons register data set; empty: no ГБД ФЛ ($EGOV_GBDFL_PERSONS)")
		phones        = flag.String("phones", env("EGOV_MOBILE_PHONES", ""), "mobile citizens' register data set; empty: the built-in one ($EGOV_MOBILE_PHONES)")
		noSMS         = flag.Bool("no-sms", false, "do not host the SMS gateway (registration by one-time code then answers 503)")
		trustDir      = flag.String("trust", env("EGOV_TRUST_DIR", "fixtures/pki/trust"), "CA certificates for business-data signatures ($EGOV_TRUST_DIR)")
		crl           = flag.String("crl", env("EGOV_CRL", "fixtures/pki/crl.pem"), "CRL file or URL ($EGOV_CRL)")
		ocspURL       = flag.String("ocsp", env("EGOV_OCSP_URL", ""), "OCSP responder URL, asked before the CRL ($EGOV_OCSP_URL)")
		visibility    = flag.Duration("visibility", 30*time.Second, "lease visibility timeout")
		maxDeliveries = flag.Int("max-deliveries", 5, "leases before a message is dead-lettered")
		refusalDelay  = flag.Duration("refusal-delay", time.Second, "wait before a refused message is handed out again (doubles with each delivery)")
		trimEvery     = flag.Duration("trim-interval", time.Minute, "how often confirmed messages are trimmed")
		recordDir     = flag.String("record", os.Getenv("EGOV_RECORD_DIR"), "record every request with its answer into this corpus directory ($EGOV_RECORD_DIR)")
		mask          = flag.Bool("mask", false, "with -record: mask IINs, names, phone numbers, certificates and passwords")
		logJSON       = flag.Bool("log-json", os.Getenv("EGOV_LOG_JSON") != "", "log JSON instead of text ($EGOV_LOG_JSON)")
		metricsAt     = flag.String("metrics-listen", env("EGOV_SHEP_METRICS", "127.0.0.1:9091"), "the process's metrics and probes (/metrics, /livez, /readyz) on a listener of their own; empty: none ($EGOV_SHEP_METRICS)")
		logLevel      = ops.LogLevelFlag(flag.CommandLine)
		limits        = httpguard.Flags(flag.CommandLine)
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
	rdb, err := redisconn.Open(*redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	routing, err := shep.LoadRouting(*routingPath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	verifier, err := signing.Sources{TrustDir: *trustDir, CRL: *crl, OCSPURL: *ocspURL}.Open(ctx, log)
	if err != nil {
		return err
	}
	var ready []ops.Check
	if verifier.Revocation != nil && verifier.Revocation.CRL != nil {
		ready = append(ready, ops.FreshCheck("revocation", verifier.Revocation.CRL.Fresh))
	}
	bus, err := shep.New(rdb, routing, shep.Config{
		Visibility: *visibility, MaxDeliveries: *maxDeliveries, RefusalDelay: *refusalDelay, Verifier: verifier, Log: log,
		Ready: ready,
	})
	if err != nil {
		return err
	}
	defer func() {
		_ = bus.Close()
		log.Info("shep bus stopped: queue and evidence writers flushed")
	}()
	if *persons != "" {
		reg, err := gbdfl.Load(*persons)
		if err != nil {
			return err
		}
		bus.HandleSync(gbdfl.ServiceID, reg)
	}
	phoneRegister := mobile.Default()
	if *phones != "" {
		if phoneRegister, err = mobile.Load(*phones); err != nil {
			return err
		}
	}
	bus.HandleSync(mobile.ServiceID, phoneRegister)
	if !*noSMS {
		// Its outbox lives under sms: in the bus's Redis; testers read it
		// with egovctl sms outbox --redis.
		bus.HandleSync(sms.ServiceID, sms.New(rdb, sms.Config{Log: log}))
	}
	trimmerDone := make(chan struct{})
	trimCtx, stopTrimmer := context.WithCancel(context.Background())
	defer stopTrimmer()
	go func() {
		defer close(trimmerDone)
		ctx := trimCtx
		t := time.NewTicker(*trimEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n, err := bus.Trim(ctx); err != nil {
					log.Warn("trim failed", "err", err)
				} else if n > 0 {
					log.Info("trimmed confirmed messages", "count", n)
				}
			}
		}
	}()
	handler := bus.Handler()
	if *recordDir != "" {
		rec, err := corpus.NewRecorder(*recordDir, *mask)
		if err != nil {
			return err
		}
		handler = rec.Middleware(corpus.KindSHEP, handler)
	}
	metrics := ops.NewRegistry()
	metrics.MustRegister(bus.Collectors()...)
	metrics.MustRegister(signing.Collectors()...)
	log.Info("shep bus starting", "redis", rdb.Options().Addr, "routing", *routingPath, "log_level", level.String())
	server := func(h http.Handler) *http.Server { return httpguard.Server(h, *limits) }
	metricsDone := ops.ServeAside(ctx, log, 5*time.Second, server,
		ops.Listener{Name: "metrics and probes", Addr: *metricsAt, Handler: ops.Handler(bus.ReadyChecks(), metrics)})
	err = ops.Serve(ctx, log, 35*time.Second, server, ops.Listener{Name: "SHEP bus", Addr: *listen, Handler: handler})
	stop() // a failed bus listener stops the metrics listener too
	metricsDone()
	stopTrimmer()
	<-trimmerDone
	log.Info("trimmer stopped")
	return err
}
