// Command labourmarket runs the labour-market system (АИС «Рынок труда») as
// its own process: it polls its queue on a SHEP bus over HTTP, checks the
// documents, keeps its registry in Redis and answers with results signed by
// the provider's authorised person.
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
	"egov/internal/httpguard"
	"egov/internal/ops"
	"egov/internal/redisconn"
	"egov/internal/settings"
	"egov/labour"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "labourmarket:", err)
		os.Exit(settings.ExitCode(err))
	}
}

// program is how the labour-market system reads its settings: a flag not
// given takes EGOV_LABOUR_<FLAG>, or the variable the stack's programs share.
var program = settings.Program{
	Prefix: "EGOV_LABOUR_",
	Vars: map[string]string{
		"bus":             "EGOV_SHEP_URL",
		"sender-password": "EGOV_LABOUR_PASSWORD",
		"key":             "EGOV_PROVIDER_KEY",
		"key-password":    "EGOV_PROVIDER_KEY_PASSWORD",
		"ops-listen":      "EGOV_OPS_LISTEN",
	},
	Required: []string{"redis", "sender-password", "key", "trust"},
	Checks: []settings.Check{{Flag: "bus", Valid: settings.HTTPURL}, {Flag: "ocsp", Valid: settings.HTTPURL},
		{Flag: "ops-listen", Valid: settings.Address}, {Flag: "workers", Valid: settings.Positive},
		{Flag: "batch", Valid: settings.Positive}, {Flag: "pace", Valid: settings.OneOf("fast", "regulation")},
		{Flag: "pace-factor", Valid: settings.Positive}, {Flag: "log-level", Valid: settings.OneOf("debug", "info", "warn", "error")}},
}

func run() error {
	var (
		redisURL    = flag.String("redis", "", "Redis URL")
		keyPrefix   = flag.String("key-prefix", "", "prefix of every Redis key (to share a Redis)")
		busURL      = flag.String("bus", "http://127.0.0.1:8081", "SHEP bus base URL")
		senderID    = flag.String("sender", "ais-rynok-truda", "the system's senderId on the bus")
		password    = flag.String("sender-password", "", "the system's bus password")
		keyPath     = flag.String("key", "", "the authorised person's key")
		keyPassword = flag.String("key-password", "Qwerty12", "its password")
		trustDir    = flag.String("trust", "", "CA certificates for checking citizens' signatures: the system acts only on what it verified")
		crl         = flag.String("crl", "", "CRL file or URL (without it and -ocsp, revocation cannot be checked)")
		ocspURL     = flag.String("ocsp", "", "OCSP responder URL")
		workers     = flag.Int("workers", 8, "processing workers")
		batch       = flag.Int("batch", 20, "messages leased per poll")
		pace        = flag.String("pace", "fast", "fast, or regulation: wait the regulation's step durations")
		factor      = flag.Float64("pace-factor", 0.01, "scale of the regulation's durations with -pace regulation")
		logJSON     = flag.Bool("log-json", false, "log JSON")
		opsListen   = flag.String("ops-listen", "127.0.0.1:9092", "the system's metrics and probes (/metrics, /livez, /readyz); empty: none")
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
	signer, err := signing.LoadSigner(*keyPath, *keyPassword)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var verifier *signing.Verifier
	if *trustDir != "" {
		if verifier, err = (signing.Sources{TrustDir: *trustDir, CRL: *crl, OCSPURL: *ocspURL}).Open(ctx, log); err != nil {
			return err
		}
	}
	sys, err := labour.New(rdb, labour.Config{KeyPrefix: *keyPrefix,
		Bus: &shep.HTTPClient{BaseURL: *busURL}, Sender: soap.SenderInfo{SenderID: *senderID, Password: *password},
		Signer: signer, Verifier: verifier, Workers: *workers, Batch: *batch, Pace: *pace, PaceFactor: *factor,
		StepDurations: regulationDurations(), Log: log,
	})
	if err != nil {
		return err
	}
	// Ready when Redis answers, the bus is reachable and the revocation
	// list is fresh.
	ready := sys.ReadyChecks(ops.HTTPCheck("bus", *busURL+ops.PathLive, nil))
	if verifier != nil && verifier.Revocation != nil && verifier.Revocation.CRL != nil {
		ready = append(ready, ops.FreshCheck("revocation", verifier.Revocation.CRL.Fresh))
	}
	metrics := ops.NewRegistry()
	metrics.MustRegister(sys.Collectors()...)
	metrics.MustRegister(signing.Collectors()...)
	log.Info("labour-market system polling", "redis", rdb.Options().Addr, "bus", *busURL, "workers", *workers, "pace", *pace,
		"log_level", level.String())
	// The ops listener outlives the workers: it is stopped once they are.
	opsCtx, stopOps := context.WithCancel(context.Background())
	defer stopOps()
	opsDone := ops.ServeAside(opsCtx, log, 5*time.Second, func(h http.Handler) *http.Server { return httpguard.Server(h, *limits) },
		ops.Listener{Name: "metrics and probes", Addr: *opsListen, Handler: ops.Handler(ready, metrics)})
	sys.Run(ctx)
	log.Info("labour-market system stopped: polling ended, workers finished their messages")
	stopOps()
	opsDone()
	return nil
}

// regulationDurations reads the regional terms from the portal's catalogue,
// which keeps the regulations' steps as data.
func regulationDurations() func(service, region string) time.Duration {
	cat, err := gateway.DefaultCatalogue()
	return func(service, region string) time.Duration {
		if err != nil {
			return 0
		}
		_, sch, err := cat.PortalSchedule(service, region)
		if err != nil {
			return 0
		}
		return sch.Term()
	}
}
