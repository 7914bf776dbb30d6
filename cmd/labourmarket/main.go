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
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"egov/gateway"
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
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *logJSON {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
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
	log.Info("labour-market system polling", "bus", *busURL, "workers", *workers, "pace", *pace)
	sys.Run(ctx)
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
