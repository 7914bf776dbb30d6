// Command counter runs АРМ ИИС ГК, the workstation of the State
// Corporation's operators, as its own process: its HTTP API (counter/v1),
// the filings it sends through a SHEP bus over HTTP, and the providers'
// results it collects for hand-out at the counter. With -desk
// employment-centre it is an employment centre's desk on the same
// machinery (S2, S3). Its settings: counter -h.
package main

import (
	"cmp"
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
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "counter:", err)
		os.Exit(settings.ExitCode(err))
	}
}

// program is how the workstation reads its settings: a flag not given
// takes EGOV_COUNTER_<FLAG>, or the variable the stack's programs share.
var program = settings.Program{
	Prefix:   "EGOV_COUNTER_",
	Vars:     map[string]string{"bus": "EGOV_SHEP_URL"},
	Required: []string{"redis", "sender-password", "trust"},
	Checks: []settings.Check{{Flag: "listen", Valid: settings.Address}, {Flag: "signer-url", Valid: settings.WebSocketURL}, {Flag: "metrics-listen", Valid: settings.Address},
		{Flag: "bus", Valid: settings.HTTPURL}, {Flag: "ocsp", Valid: settings.HTTPURL},
		{Flag: "log-level", Valid: settings.OneOf("debug", "info", "warn", "error")},
		{Flag: "desk", Valid: settings.OneOf("state-corporation", "employment-centre")}},
}

func run() error {
	var (
		listen    = flag.String("listen", "127.0.0.1:8084", "address of the workstation: the operators' pages at /, the API at /counter/v1")
		signerURL = flag.String("signer-url", "wss://127.0.0.1:13579", "where the operators' pages find NCALayer on the operator's computer")
		secure    = flag.Bool("secure-cookies", false, "mark the pages' cookies Secure: the workstation is reached over TLS (a proxy in front)")
		redisURL  = flag.String("redis", "", "Redis URL")
		keyPrefix = flag.String("key-prefix", "", "prefix of every Redis key (to share a Redis)")
		busURL    = flag.String("bus", "http://127.0.0.1:8081", "SHEP bus base URL")
		deskName  = flag.String("desk", "state-corporation", "whose workstation: state-corporation (АРМ ИИС ГК) or employment-centre (an employment centre's desk)")
		senderID  = flag.String("sender", "", "the workstation's senderId on the bus (default: the desk's, gk-counter or czn-desk)")
		password  = flag.String("sender-password", "", "its bus password")
		operators = flag.String("operators", "", "the operators' data set (default: the desk's built-in one, fixtures/counter/operators.json or fixtures/employment-centre/specialists.json)")
		portal    = flag.String("portal", "egov-portal", "the portal's system on the bus, told of every filing and its result for the citizen's cabinet (the State Corporation's only); empty: none")
		bin       = flag.String("bin", "", "the BIN the operators sign for (default: the desk's organisation's, 160540000019 or 130440000001)")
		labourBIN = flag.String("labour-bin", "940140000385", "BIN whose authorised person signs the labour-market system's results")
		deskBIN   = flag.String("regionaldesk-bin", "070540000713", "BIN whose authorised person signs the results of АРМ РШЭП")
		trustDir  = flag.String("trust", "", "CA certificates trusted for the operators' and the providers' signatures")
		crl       = flag.String("crl", "", "CRL file or URL")
		ocspURL   = flag.String("ocsp", "", "OCSP responder URL, asked before the CRL")
		logJSON   = flag.Bool("log-json", false, "log JSON instead of text")
		metricsAt = flag.String("metrics-listen", "127.0.0.1:9094", "the process's metrics and probes (/metrics, /livez, /readyz); empty: none")
		logLevel  = ops.LogLevelFlag(flag.CommandLine)
		limits    = httpguard.Flags(flag.CommandLine)
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
	desk := counter.Desks[*deskName]
	staff, err := desk.LoadStaff(*operators)
	if err != nil {
		return err
	}
	cat, err := gateway.DefaultCatalogue()
	if err != nil {
		return err
	}
	cal, err := gateway.DefaultCalendar()
	if err != nil {
		return err
	}
	ws, err := counter.New(rdb, counter.Config{Desk: desk, KeyPrefix: *keyPrefix, Bus: &shep.HTTPClient{BaseURL: *busURL},
		Sender: soap.SenderInfo{SenderID: cmp.Or(*senderID, desk.System), Password: *password}, Operators: staff, Catalogue: cat, Calendar: cal,
		Verifier: verifier, BIN: cmp.Or(*bin, desk.BIN), ProviderBINs: map[string]string{"ais-rynok-truda": *labourBIN, "arm-rshep": *deskBIN},
		Portal: *portal, Log: log})
	if err != nil {
		return err
	}
	ready := []ops.Check{ops.RedisCheck(rdb), ops.HTTPCheck("bus", *busURL+ops.PathLive, nil)}
	if verifier.Revocation != nil && verifier.Revocation.CRL != nil {
		ready = append(ready, ops.FreshCheck("revocation", verifier.Revocation.CRL.Fresh))
	}
	metrics := ops.NewRegistry()
	metrics.MustRegister(signing.Collectors()...)
	log.Info("counter starting", "desk", desk.Name, "redis", redisconn.Describe(rdb), "bus", *busURL, "log_level", level.String())
	workers, stopWorkers := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ws.Run(workers); close(done) }()
	server := func(h http.Handler) *http.Server { return httpguard.Server(h, *limits) }
	metricsDone := ops.ServeAside(ctx, log, 5*time.Second, server,
		ops.Listener{Name: "metrics and probes", Addr: *metricsAt, Handler: ops.Handler(ready, metrics)})
	err = ops.Serve(ctx, log, 30*time.Second, server, ops.Listener{Name: "counter API", Addr: *listen, Handler: ws.HandlerWith(&counter.PageOptions{SignerURL: *signerURL, SecureCookies: *secure})})
	stop()
	metricsDone()
	stopWorkers()
	<-done
	log.Info("counter stopped")
	return err
}
