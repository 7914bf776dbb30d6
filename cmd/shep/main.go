// Command shep serves the simulated SHEP bus (ШЭП) over HTTP on a real Redis:
// the asynchronous and synchronous SOAP channels, the attachment store, the
// synchronous services it hosts (the persons register ГБД ФЛ, the mobile
// citizens' register, the SMS gateway), /healthz and /metrics.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"egov/internal/corpus"
	"egov/internal/httpguard"
	"egov/internal/ops"
	"egov/internal/periodic"
	"egov/internal/redisconn"
	"egov/internal/settings"
	"egov/registers"
	"egov/shep"
	"egov/signing"
	"egov/sms"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "shep:", err)
		os.Exit(settings.ExitCode(err))
	}
}

// program is how the bus reads its settings: a flag not given takes
// EGOV_SHEP_<FLAG>, or the variable the stack's programs share for it.
var program = settings.Program{
	Prefix: "EGOV_SHEP_",
	Vars: map[string]string{
		"persons":        "EGOV_GBDFL_PERSONS",
		"phones":         "EGOV_MOBILE_PHONES",
		"metrics-listen": "EGOV_SHEP_METRICS",
	},
	Required: []string{"redis", "trust"},
	Checks: []settings.Check{{Flag: "listen", Valid: settings.Address}, {Flag: "log-level", Valid: settings.OneOf("debug", "info", "warn", "error")}, {Flag: "metrics-listen", Valid: settings.Address},
		{Flag: "ocsp", Valid: settings.HTTPURL}, {Flag: "visibility", Valid: settings.Positive},
		{Flag: "max-deliveries", Valid: settings.Positive}, {Flag: "trim-interval", Valid: settings.Positive},
		{Flag: "evidence-chain", Valid: settings.IntBetween(shep.AnyEvidenceChain, shep.EvidenceChains-1)}},
}

func run() error {
	var (
		listen        = flag.String("listen", "127.0.0.1:8081", "address to serve on")
		redisURL      = flag.String("redis", "", "Redis URL")
		keyPrefix     = flag.String("key-prefix", "", "prefix of every Redis key (to share a Redis)")
		waitN         = flag.Int("redis-wait-replicas", 0, "replicas that must acknowledge a write the product answers accepted for (Redis WAIT; 0: none, as before)")
		waitFor       = flag.Duration("redis-wait-timeout", redisconn.DefaultWaitTimeout, "how long to wait for them before answering unavailable")
		routingPath   = flag.String("routing", "", "routing table; empty: the built-in one")
		persons       = flag.String("persons", "", "persons register data set; empty: the built-in one")
		noPersons     = flag.Bool("no-persons", false, "do not host the persons register (ГБД ФЛ)")
		phones        = flag.String("phones", "", "mobile citizens' register data set; empty: the built-in one")
		contractsFile = flag.String("contracts", "", "data set of the register of employment contracts; empty: the built-in one")
		assisted      = flag.String("assistance", "", "data set of the register of recipients of targeted social assistance; empty: the built-in one")
		powersFile    = flag.String("powers", "", "data set of ЕНИС, the register of notarised powers of attorney; empty: the built-in one")
		noSMS         = flag.Bool("no-sms", false, "do not host the SMS gateway (registration by one-time code then answers 503)")
		trustDir      = flag.String("trust", "", "CA certificates for business-data signatures (e.g. the test PKI's DATA/pki/trust)")
		crl           = flag.String("crl", "", "CRL file or URL (without it and -ocsp, revocation cannot be checked)")
		ocspURL       = flag.String("ocsp", "", "OCSP responder URL, asked before the CRL")
		visibility    = flag.Duration("visibility", 30*time.Second, "lease visibility timeout")
		maxDeliveries = flag.Int("max-deliveries", 5, "leases before a message is dead-lettered")
		refusalDelay  = flag.Duration("refusal-delay", time.Second, "wait before a refused message is handed out again (doubles with each delivery)")
		trimEvery     = flag.Duration("trim-interval", time.Minute, "how often confirmed messages are trimmed")
		chain         = flag.Int("evidence-chain", shep.AnyEvidenceChain, "the evidence chain this bus appends to, 0 to 7 (-1: one at random; buses on different chains never wait for each other's evidence)")
		recordDir     = flag.String("record", "", "record every request with its answer into this corpus directory")
		mask          = flag.Bool("mask", false, "with -record: mask IINs, names, phone numbers, certificates and passwords")
		logJSON       = flag.Bool("log-json", false, "log JSON instead of text")
		metricsAt     = flag.String("metrics-listen", "127.0.0.1:9091", "the process's metrics and probes (/metrics, /livez, /readyz) on a listener of their own; empty: none")
		logLevel      = ops.LogLevelFlag(flag.CommandLine)
		limits        = httpguard.Flags(flag.CommandLine)
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
	routing, err := shep.LoadRoutingOrBuiltIn(*routingPath)
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
	bus, err := shep.New(rdb, routing, shep.Config{KeyPrefix: *keyPrefix, EvidenceChain: *chain,
		Visibility: *visibility, MaxDeliveries: *maxDeliveries, RefusalDelay: *refusalDelay, Verifier: verifier, Log: log,
		Ready: ready, Durability: redisconn.Durability{Replicas: *waitN, Timeout: *waitFor},
	})
	if err != nil {
		return err
	}
	defer func() {
		_ = bus.Close()
		log.Info("shep bus stopped: queue and evidence writers flushed")
	}()
	if err := registers.Host(bus, registers.Files{Persons: *persons, NoPersons: *noPersons, Assistance: *assisted,
		Contracts: *contractsFile, Phones: *phones, Powers: *powersFile}); err != nil {
		return err
	}
	if !*noSMS {
		// Its outbox lives under sms: in the bus's Redis; testers read it
		// with egovctl sms outbox --redis.
		bus.HandleSync(sms.ServiceID, sms.New(rdb, sms.Config{KeyPrefix: *keyPrefix, Log: log}))
	}
	// The bus's chores: trimming confirmed messages, cross-anchoring the
	// evidence chains. Shutdown waits for them (trimmerDone).
	trimmerDone := make(chan struct{})
	trimCtx, stopTrimmer := context.WithCancel(context.Background())
	defer stopTrimmer()
	go func() {
		defer close(trimmerDone)
		var wg sync.WaitGroup
		wg.Go(func() {
			periodic.Every(trimCtx, shep.CrossAnchorEvery, func(ctx context.Context) {
				if _, err := bus.CrossAnchor(ctx); err != nil {
					log.Warn("cross-anchoring the evidence chains failed", "err", err)
				}
			})
		})
		periodic.Every(trimCtx, *trimEvery, func(ctx context.Context) {
			if n, err := bus.Trim(ctx); err != nil {
				log.Warn("trim failed", "err", err)
			} else if n > 0 {
				log.Info("trimmed confirmed messages", "count", n)
			}
		})
		wg.Wait()
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
	log.Info("shep bus starting", "redis", redisconn.Describe(rdb), "routing", orBuiltIn(*routingPath), "log_level", level.String())
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

func orBuiltIn(path string) string {
	if path == "" {
		return "built-in"
	}
	return path
}
