// Package providerprog is the command of a provider's system run as a
// process of its own (cmd/labourmarket, cmd/regionaldesk): its settings,
// its Redis, bus and keys, its probes and metrics, its shutdown. Both
// commands are this one with a Spec.
package providerprog

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"egov/counter"
	"egov/gateway"
	"egov/internal/httpguard"
	"egov/internal/ops"
	"egov/internal/redisconn"
	"egov/internal/settings"
	"egov/provider"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

// Spec is what differs between the provider commands.
type Spec struct {
	// Command is the program's name in errors.
	Command string
	// Identity is the system's (labour.Identity, regionaldesk.Identity).
	Identity provider.Identity
	// Sender is its default senderId on the bus, OpsListen the default
	// address of its probes and metrics.
	Sender, OpsListen string
	// EnvPrefix begins its own variables (EGOV_LABOUR_); its bus password
	// is <EnvPrefix>PASSWORD. KeyVar names the variable of its authorised
	// person's key, KeyVar_PASSWORD that of the key's password. OpsVar,
	// if set, names the variable of its probes' address instead of
	// <EnvPrefix>OPS_LISTEN (the labour-market system's older name).
	EnvPrefix, KeyVar, OpsVar string
}

// program is how the system reads its settings: a flag not given takes
// <EnvPrefix><FLAG>, or the variable the stack's programs share.
func (s Spec) program() settings.Program {
	vars := map[string]string{
		"bus":             "EGOV_SHEP_URL",
		"sender-password": s.EnvPrefix + "PASSWORD",
		"key":             s.KeyVar,
		"key-password":    s.KeyVar + "_PASSWORD",
	}
	if s.OpsVar != "" {
		vars["ops-listen"] = s.OpsVar
	}
	return settings.Program{
		Prefix:   s.EnvPrefix,
		Vars:     vars,
		Required: []string{"redis", "sender-password", "key", "trust"},
		Checks: []settings.Check{{Flag: "bus", Valid: settings.HTTPURL}, {Flag: "ocsp", Valid: settings.HTTPURL},
			{Flag: "ops-listen", Valid: settings.Address}, {Flag: "workers", Valid: settings.Positive},
			{Flag: "batch", Valid: settings.Positive}, {Flag: "pace", Valid: settings.OneOf("fast", "regulation")},
			{Flag: "pace-factor", Valid: settings.Positive}, {Flag: "review-every", Valid: settings.Positive}, {Flag: "log-level", Valid: settings.OneOf("debug", "info", "warn", "error")}},
	}
}

// Main runs the system spec describes until SIGINT or SIGTERM and exits
// with the settings' exit code on an error.
func Main(spec Spec) {
	if err := run(spec, flag.CommandLine, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, spec.Command+":", err)
		os.Exit(settings.ExitCode(err))
	}
}

func run(spec Spec, fs *flag.FlagSet, args []string) error {
	var (
		redisURL    = fs.String("redis", "", "Redis URL")
		keyPrefix   = fs.String("key-prefix", "", "prefix of every Redis key (to share a Redis)")
		busURL      = fs.String("bus", "http://127.0.0.1:8081", "SHEP bus base URL")
		senderID    = fs.String("sender", spec.Sender, "the system's senderId on the bus")
		password    = fs.String("sender-password", "", "the system's bus password")
		keyPath     = fs.String("key", "", "the authorised person's key")
		keyPassword = fs.String("key-password", "Qwerty12", "its password")
		trustDir    = fs.String("trust", "", "CA certificates for checking citizens' signatures: the system acts only on what it verified")
		crl         = fs.String("crl", "", "CRL file or URL (without it and -ocsp, revocation cannot be checked)")
		ocspURL     = fs.String("ocsp", "", "OCSP responder URL")
		workers     = fs.Int("workers", 8, "processing workers")
		batch       = fs.Int("batch", 20, "messages leased per poll")
		pace        = fs.String("pace", "fast", "fast, or regulation: wait the regulation's step durations")
		factor      = fs.Float64("pace-factor", 0.01, "scale of the regulation's durations with -pace regulation")
		reviewEvery = fs.Duration("review-every", time.Hour, "how often registrations whose condition can lapse are looked at again")
		waitN       = fs.Int("redis-wait-replicas", 0, "replicas that must acknowledge a decision before its result is sent (Redis WAIT; 0: none)")
		waitFor     = fs.Duration("redis-wait-timeout", redisconn.DefaultWaitTimeout, "how long to wait for them before the message is left to come back")
		logJSON     = fs.Bool("log-json", false, "log JSON")
		opsListen   = fs.String("ops-listen", spec.OpsListen, "the system's metrics and probes (/metrics, /livez, /readyz); empty: none")
		counterSys  = fs.String("counter", "gk-counter", "the State Corporation's counter system on the bus, whose operators' filings the system takes")
		counterBIN  = fs.String("counter-bin", "160540000019", "the BIN the counter's operators sign for; empty: no filings are taken")
		cabinet     = fs.String("counter-cabinet", "egov-portal", "the portal whose cabinets show the counter's filings, told when a registration one made ends; empty: none")
		centre      = fs.String("centre", "czn-desk", "the employment centres' desk on the bus, whose specialists' filings the system takes (S2, S3)")
		centreBIN   = fs.String("centre-bin", "130440000001", "the BIN the centres' specialists sign for; empty: none of their filings are taken")
		logLevel    = ops.LogLevelFlag(fs)
		limits      = httpguard.Flags(fs)
	)
	program := spec.program()
	program.Describe(fs)
	if err := program.Parse(fs, args); err != nil {
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
	terms, flows := fromCatalogue()
	sys, err := spec.Identity.New(rdb, provider.Config{KeyPrefix: *keyPrefix, Durability: redisconn.Durability{Replicas: *waitN, Timeout: *waitFor},
		Bus: &shep.HTTPClient{BaseURL: *busURL}, Sender: soap.SenderInfo{SenderID: *senderID, Password: *password},
		Signer: signer, Verifier: verifier, Workers: *workers, Batch: *batch, Pace: *pace, PaceFactor: *factor,
		StepDurations: terms, ReviewEvery: *reviewEvery, Log: log, Counters: counters(*counterSys, *counterBIN, *centre, *centreBIN), FiledThrough: flows,
		Cabinets: map[string]string{*counterSys: *cabinet},
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
	log.Info(spec.Identity.Name+" polling", "redis", redisconn.Describe(rdb), "bus", *busURL, "workers", *workers, "pace", *pace,
		"log_level", level.String())
	// The ops listener outlives the workers: it is stopped once they are.
	opsCtx, stopOps := context.WithCancel(context.Background())
	defer stopOps()
	opsDone := ops.ServeAside(opsCtx, log, 5*time.Second, func(h http.Handler) *http.Server { return httpguard.Server(h, *limits) },
		ops.Listener{Name: "metrics and probes", Addr: *opsListen, Handler: ops.Handler(ready, metrics)})
	sys.Run(ctx)
	log.Info(spec.Identity.Name + " stopped: polling ended, workers finished their messages")
	stopOps()
	opsDone()
	return nil
}

// fromCatalogue reads, once, what the system takes from the portal's
// catalogue, which keeps the regulations as data: the regional terms
// (pace) and the desks' channels and flows (what a desk may file, whether
// ЕНИС is asked); without it, no terms and no filings.
func fromCatalogue() (terms func(service, region string) time.Duration, channels func(service, region, busService string) (string, string)) {
	cat, err := gateway.DefaultCatalogue()
	if err != nil {
		return func(string, string) time.Duration { return 0 }, nil
	}
	return cat.PortalTerm, cat.DeskChannel
}

// counters is provider.Config.Counters of the flags: the State
// Corporation's counter and the employment centres' desk under their
// names on the bus; a desk without a BIN files nothing.
func counters(counterSystem, counterBIN, centreSystem, centreBIN string) map[string]provider.Filer {
	out := map[string]provider.Filer{}
	for _, d := range []struct {
		system, bin string
		desk        counter.Desk
	}{{counterSystem, counterBIN, counter.StateCorporation}, {centreSystem, centreBIN, counter.EmploymentCentre}} {
		if d.system != "" && d.bin != "" {
			out[d.system] = provider.Filer{BIN: d.bin, Filed: d.desk.Filed, Channels: d.desk.Channels}
		}
	}
	return out
}
