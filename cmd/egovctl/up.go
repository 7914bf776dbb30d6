package main

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only with --pprof
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"egov/gateway"
	"egov/internal/corpus"
	"egov/internal/httpguard"
	"egov/internal/redisconn"
	"egov/labour"
	"egov/registers/mobile"
	"egov/shep"
	"egov/shep/gbdfl"
	"egov/shep/soap"
	"egov/signing"
	"egov/signing/pki"
	"egov/sms"
)

// demoCitizens are created on first start: valid IINs of different ages,
// each in the persons register simulator.
var demoCitizens = []struct{ iin, name, note string }{
	{"791028302728", "ЖАҚСЫЛЫҚОВ АЙДОС СЕРІКҰЛЫ", "adult, valid identity card: registration succeeds"},
	{"050815600217", "НҰРЛАНОВА АЙГЕРІМ ЕРЛАНҚЫЗЫ", "20 years old: youth practice after registration"},
	{"100203500443", "ТОҚТАРОВ ЕРАСЫЛ БОЛАТҰЛЫ", "born 2010-02-03: refused as underage before his 16th birthday"},
	{"900101300811", "ОМАРОВ ДАНИЯР АСҚАРҰЛЫ", "the register holds an expired identity card: refused"},
}

const demoPassword = pki.DefaultPassword

func up(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("up", stderr)
	var (
		dataDir    = fs.String("data", "data", "directory for the test PKI and demo citizens (created on first start)")
		listen     = fs.String("listen", "127.0.0.1:8080", "portal API address")
		busListen  = fs.String("bus-listen", "127.0.0.1:8081", "SHEP bus address")
		ocspListen = fs.String("ocsp-listen", "127.0.0.1:8082", "OCSP responder address")
		routing    = fs.String("routing", "fixtures/shep/routing.json", "bus routing table")
		persons    = fs.String("persons", "fixtures/gbdfl/persons.json", "persons register data set")
		phones     = fs.String("phones", "", "mobile citizens' register data set (default: the built-in one, as fixtures/mobile/phones.json)")
		smsListen  = fs.String("sms-listen", "127.0.0.1:8083", "the SMS gateway's outbox view for testers (egovctl sms outbox); empty: none")
		metricsAt  = fs.String("metrics-listen", "127.0.0.1:9090", "Prometheus metrics of the portal, the bus and the process, on their own listener; empty: none")
		pace       = fs.String("pace", "fast", "labour-market pace: fast, or regulation (waits the regulation's durations)")
		factor     = fs.Float64("pace-factor", 0.01, "scale of the regulation's durations with -pace regulation")
		redisURL   = fs.String("redis", os.Getenv("EGOV_REDIS_URL"), "Redis URL (default $EGOV_REDIS_URL; none: an embedded Redis)")
		prefix     = fs.String("key-prefix", "", "prefix of every Redis key (to share a Redis)")
		recordDir  = fs.String("record", "", "record every portal request and SHEP envelope with its answer into this corpus directory")
		mask       = fs.Bool("mask", false, "with --record: replace IINs, names, phone numbers, certificates and passwords consistently")
		attempts   = fs.Int64("attempts-per-minute", 20, "logins and registrations one client address may try a minute (raise for load tests)")
		workers    = fs.Int("labour-workers", 16, "labour-market processing workers")
		noLabour   = fs.Bool("no-labour", false, "do not run the labour-market system: requests wait in its queue (to measure the front door alone)")
		pprofAddr  = fs.String("pprof", "", "serve net/http/pprof on this address (profiling)")
		limits     = httpguard.Flags(fs)
	)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	authority, fresh, err := ensureDemoData(*dataDir, stdout)
	if err != nil {
		return err
	}
	rdb, stopRedis, err := openOrEmbedRedis(*redisURL, stdout)
	if err != nil {
		return err
	}
	defer stopRedis()

	// Revocation: an OCSP responder of the test authority, and its CRL
	// written now and every hour.
	crlPath := filepath.Join(*dataDir, "pki", "crl.pem")
	writeCRL := func() error {
		now := time.Now().UTC().Truncate(time.Second)
		der, err := authority.CRL(now.Add(-time.Minute), now.Add(2*time.Hour))
		if err != nil {
			return err
		}
		return os.WriteFile(crlPath, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644)
	}
	if err := writeCRL(); err != nil {
		return err
	}
	trust, err := signing.LoadTrustDir(filepath.Join(*dataDir, "pki", pki.TrustDir))
	if err != nil {
		return err
	}
	crl := &signing.CRLSet{Sources: []string{crlPath}, Trust: trust}
	if err := crl.Refresh(ctx); err != nil {
		return err
	}
	rev := &signing.Revocation{OCSP: &signing.OCSPClient{URL: "http://" + *ocspListen + "/"}, CRL: crl}
	verifier := &signing.Verifier{Trust: trust, Revocation: rev}

	routes, err := shep.LoadRouting(*routing)
	if err != nil {
		return err
	}
	bus, err := shep.New(rdb, routes, shep.Config{KeyPrefix: *prefix, Verifier: verifier, Log: log})
	if err != nil {
		return err
	}
	defer bus.Close()
	register, err := gbdfl.Load(*persons)
	if err != nil {
		return err
	}
	bus.HandleSync(gbdfl.ServiceID, register)
	// The mobile citizens' register and the SMS gateway: systems of their
	// own that the portal reaches only through the bus's sync channel.
	phoneRegister := mobile.Default()
	if *phones != "" {
		if phoneRegister, err = mobile.Load(*phones); err != nil {
			return err
		}
	}
	bus.HandleSync(mobile.ServiceID, phoneRegister)
	smsGateway := sms.New(rdb, sms.Config{KeyPrefix: *prefix, Log: log})
	bus.HandleSync(sms.ServiceID, smsGateway)

	provider, err := signing.LoadSigner(filepath.Join(*dataDir, "pki", "keys", "provider.p12"), demoPassword)
	if err != nil {
		return err
	}
	cat, err := gateway.DefaultCatalogue()
	if err != nil {
		return err
	}
	labourSystem, err := labour.New(rdb, labour.Config{Bus: bus, Sender: soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "labour-secret"},
		Signer: provider, Verifier: verifier, Pace: *pace, PaceFactor: *factor, Log: log, KeyPrefix: *prefix, Workers: *workers,
		StepDurations: func(service, region string) time.Duration {
			if _, sch, err := cat.PortalSchedule(service, region); err == nil {
				return sch.Term()
			}
			return 0
		}})
	if err != nil {
		return err
	}
	app, err := gateway.New(rdb, gateway.Config{KeyPrefix: *prefix, Verifier: verifier, Bus: bus, Catalogue: cat,
		Sender:       soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"},
		ProviderBINs: map[string]string{"ais-rynok-truda": signing.IdentityOf(provider.Certificate).BIN}, Log: log,
		AttemptsPerMinute: *attempts})
	if err != nil {
		return err
	}

	busHandler := bus.Handler()
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(bus.Collectors()...)
	portalHandler := app.Handler(gateway.HTTPOptions{Metrics: metrics, Health: []gateway.HealthCheck{
		{Name: "revocation", Check: func(context.Context) error { return crl.Fresh(time.Now()) }}}})
	if *recordDir != "" {
		rec, err := corpus.NewRecorder(*recordDir, *mask)
		if err != nil {
			return err
		}
		busHandler = rec.Middleware(corpus.KindSHEP, busHandler)
		portalHandler = rec.Middleware(corpus.KindPortal, portalHandler)
		fmt.Fprintf(stdout, "Recording every portal request and SHEP envelope into %s (masked: %v).\n", *recordDir, *mask)
	}
	servers := []struct {
		name, addr string
		handler    http.Handler
	}{
		{"pprof", *pprofAddr, http.DefaultServeMux},
		{"OCSP responder", *ocspListen, &pki.Responder{Authority: authority}},
		{"SHEP bus", *busListen, busHandler},
		{"SMS outbox view", *smsListen, smsGateway.OutboxHandler()},
		{"portal API", *listen, portalHandler},
		{"metrics", *metricsAt, gateway.MetricsHandler(metrics)},
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(servers))
	for _, s := range servers {
		if s.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		srv := httpguard.Server(s.handler, *limits)
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- err
				cancel()
			}
		}()
		go func() {
			defer wg.Done()
			<-ctx.Done()
			shutdown, c := context.WithTimeout(context.Background(), 10*time.Second)
			defer c()
			_ = srv.Shutdown(shutdown)
		}()
	}
	runs := []func(context.Context){app.Run,
		func(ctx context.Context) { crl.Run(ctx, time.Minute, log) },
		func(ctx context.Context) { every(ctx, time.Hour, func() { _ = writeCRL() }) },
		func(ctx context.Context) { every(ctx, time.Minute, func() { _, _ = bus.Trim(ctx) }) },
	}
	if !*noLabour {
		runs = append(runs, labourSystem.Run)
	}
	for _, run := range runs {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}

	fmt.Fprintf(stdout, `
egov-gateway is up.
  portal API      http://%s/api/v1   (OpenAPI: /api/v1/openapi.yaml, health: /healthz)
  SHEP bus        http://%s/shep/async, /shep/sync
  OCSP responder  http://%s/
  SMS outbox      http://%s%s?phone=+7…   (egovctl sms outbox --phone +7…: one-time codes)
  metrics         http://%s/metrics   (portal, bus and process; not on the public ports)
  test PKI        %s (trust: %s, CRL: %s)
  demo citizens   %s (keys *.p12, password %s)
`, *listen, *busListen, *ocspListen, *smsListen, sms.OutboxPath, *metricsAt, filepath.Join(*dataDir, "pki"), filepath.Join(*dataDir, "pki", pki.TrustDir), crlPath,
		filepath.Join(*dataDir, "citizens"), demoPassword)
	if fresh {
		fmt.Fprintln(stdout, "  (created on this first start)")
	}
	fmt.Fprintf(stdout, "\nNext, in another terminal:  go run ./cmd/egovctl demo --gateway http://%s   (or: make demo)\nStop with Ctrl-C.\n", *listen)
	<-ctx.Done()
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// openOrEmbedRedis connects to url, or starts an in-process Redis.
func openOrEmbedRedis(url string, stdout io.Writer) (redis.UniversalClient, func(), error) {
	if url != "" {
		rdb, err := redisconn.Open(url)
		if err != nil {
			return nil, nil, err
		}
		if err := rdb.Ping(context.Background()).Err(); err != nil {
			return nil, nil, fmt.Errorf("redis %s: %w", rdb.Options().Addr, err)
		}
		fmt.Fprintf(stdout, "Using Redis at %s.\n", rdb.Options().Addr)
		return rdb, func() { _ = rdb.Close() }, nil
	}
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	if err := m.Start(); err != nil {
		return nil, nil, err
	}
	fmt.Fprintln(stdout, "WARNING: EGOV_REDIS_URL is not set: using an embedded in-memory Redis. Nothing is durable;")
	fmt.Fprintln(stdout, "         every request and result is lost when this process stops.")
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	return rdb, func() { _ = rdb.Close(); m.Close() }, nil
}

// ensureDemoData creates, on first start, the test PKI (root, issuing CA,
// the employment centre's authorised person) and the demo citizens' keys.
func ensureDemoData(dir string, stdout io.Writer) (*pki.Authority, bool, error) {
	pkiDir := filepath.Join(dir, "pki")
	if a, err := pki.Open(pkiDir); err == nil {
		return a, false, nil
	}
	fmt.Fprintf(stdout, "First start: creating the test PKI and demo citizens under %s …\n", dir)
	a, err := pki.Init(pkiDir, pki.InitOptions{})
	if err != nil {
		return nil, false, err
	}
	valid := func() (time.Time, time.Time) {
		now := time.Now().UTC().Truncate(time.Second)
		return now.Add(-24 * time.Hour), now.AddDate(2, 0, 0)
	}
	from, until := valid()
	if err := os.MkdirAll(filepath.Join(pkiDir, "keys"), 0o755); err != nil {
		return nil, false, err
	}
	prov, err := a.Issue(pki.IssueOptions{IIN: "800515400122", Name: "СЕЙТҚАЛИЕВА ГҮЛНАР МАРАТҚЫЗЫ", Kind: pki.KindOrg,
		BIN: "940140000385", Organization: "КГУ «ЦЕНТР ЗАНЯТОСТИ НАСЕЛЕНИЯ» (TEST)", Role: signing.KeyUserCEO, NotBefore: from, NotAfter: until})
	if err != nil {
		return nil, false, err
	}
	if err := a.Write(prov, filepath.Join(pkiDir, "keys", "provider"), demoPassword); err != nil {
		return nil, false, err
	}
	citizens := filepath.Join(dir, "citizens")
	if err := os.MkdirAll(citizens, 0o755); err != nil {
		return nil, false, err
	}
	var readme strings.Builder
	readme.WriteString("Demo citizens of the test PKI (TEST ONLY). Key password: " + demoPassword + "\n\n")
	for _, c := range demoCitizens {
		for _, kind := range []pki.Kind{pki.KindSign, pki.KindAuth} {
			iss, err := a.Issue(pki.IssueOptions{IIN: c.iin, Name: c.name, Kind: kind, NotBefore: from, NotAfter: until})
			if err != nil {
				return nil, false, err
			}
			if err := a.Write(iss, filepath.Join(citizens, c.iin+"-"+string(kind)), demoPassword); err != nil {
				return nil, false, err
			}
		}
		fmt.Fprintf(&readme, "%s  %s\n    %s-sign.p12 (signing), %s-auth.p12 (login by signature)\n    %s\n", c.iin, c.name, c.iin, c.iin, c.note)
	}
	if err := os.WriteFile(filepath.Join(citizens, "README.txt"), []byte(readme.String()), 0o644); err != nil {
		return nil, false, err
	}
	return a, true, nil
}
