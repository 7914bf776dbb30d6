// Command labourmarket runs the labour-market system (АИС «Рынок труда») as
// its own process: it polls its queue on a SHEP bus over HTTP, checks the
// documents, keeps its registry in Redis and answers with results signed by
// the provider's authorised person.
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
	"egov/internal/httpguard"
	"egov/internal/ops"
	"egov/internal/redisconn"
	"egov/labour"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "labourmarket:", err)
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
		redisURL    = flag.String("redis", env("EGOV_REDIS_URL", ""), "Redis URL ($EGOV_REDIS_URL, required)")
		busURL      = flag.String("bus", env("EGOV_SHEP_URL", "http://127.0.0.1:8081"), "SHEP bus base URL ($EGOV_SHEP_URL)")
		senderID    = flag.String("sender", env("EGOV_LABOUR_SENDER", "ais-rynok-truda"), "the system's senderId on the bus ($EGOV_LABOUR_SENDER)")
		password    = flag.String("sender-password", env("EGOV_LABOUR_PASSWORD", ""), "the system's bus password ($EGOV_LABOUR_PASSWORD)")
		keyPath     = flag.String("key", env("EGOV_PROVIDER_KEY", "fixtures/pki/keys/provider.p12"), "the authorised person's key ($EGOV_PROVIDER_KEY)")
		keyPassword = flag.String("key-password", env("EGOV_PROVIDER_KEY_PASSWORD", "Qwerty12"), "its password ($EGOV_PROVIDER_KEY_PASSWORD)")
		trustDir    = flag.String("trust", env("EGOV_TRUST_DIR", "fixtures/pki/trust"), "CA certificates for checking citizens' signatures, required: the system acts only on what it verified ($EGOV_TRUST_DIR)")
		crl         = flag.String("crl", env("EGOV_CRL", "fixtures/pki/crl.pem"), "CRL file or URL ($EGOV_CRL)")
		ocspURL     = flag.String("ocsp", env("EGOV_OCSP_URL", ""), "OCSP responder URL ($EGOV_OCSP_URL)")
		workers     = flag.Int("workers", 8, "processing workers")
		batch       = flag.Int("batch", 20, "messages leased per poll")
		pace        = flag.String("pace", env("EGOV_LABOUR_PACE", "fast"), "fast, or regulation: wait the regulation's step durations ($EGOV_LABOUR_PACE)")
		factor      = flag.Float64("pace-factor", 0.01, "scale of the regulation's durations with -pace regulation")
		logJSON     = flag.Bool("log-json", os.Getenv("EGOV_LOG_JSON") != "", "log JSON ($EGOV_LOG_JSON)")
		opsListen   = flag.String("ops-listen", env("EGOV_OPS_LISTEN", "127.0.0.1:9092"), "the system's metrics and probes (/metrics, /livez, /readyz); empty: none ($EGOV_OPS_LISTEN)")
		logLevel    = ops.LogLevelFlag(flag.CommandLine)
		limits      = httpguard.Flags(flag.CommandLine)
	)
	flag.Parse()
	level, err := ops.ParseLevel(*logLevel)
	if err != nil {
		return err
	}
	log := ops.NewLogger(os.Stderr, level, *logJSON)
	if *redisURL == "" || *password == "" {
		return errors.New("-redis ($EGOV_REDIS_URL) and -sender-password ($EGOV_LABOUR_PASSWORD) are required")
	}
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
	sys, err := labour.New(rdb, labour.Config{
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
