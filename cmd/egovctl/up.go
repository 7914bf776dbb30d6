package main

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	_ "net/http/pprof" // served only with --pprof
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"egov/counter"
	"egov/gateway"
	"egov/internal/corpus"
	"egov/internal/httpguard"
	"egov/internal/ops"
	"egov/internal/periodic"
	"egov/internal/redisconn"
	"egov/internal/settings"
	"egov/labour"
	"egov/provider"
	"egov/regionaldesk"
	"egov/registers"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
	"egov/signing/pki"
	"egov/sms"
)

// demoCitizens are created on first start: valid IINs of different ages,
// each in the persons register simulator.
var demoCitizens = []struct{ iin, name, note string }{
	{"791028302728", "ЖАҚСЫЛЫҚОВ АЙДОС СЕРІКҰЛЫ", "adult, valid identity card: registration succeeds"},
	{"050815600217", "НҰРЛАНОВА АЙГЕРІМ ЕРЛАНҚЫЗЫ", "born 2005-08-15: youth practice after registration (under 29)"},
	{"140506510009", "БЕКОВ ӘЛИХАН НҰРЛАНҰЛЫ", "born 2014-05-06: refused as underage (under 16) until 2030"},
	{"900101300811", "ОМАРОВ ДАНИЯР АСҚАРҰЛЫ", "the register holds an expired identity card: refused; his family receives targeted social assistance (S7 in Karaganda: belongs)"},
	{"800515400122", "СЕЙТҚАЛИЕВА ГҮЛНАР МАРАТҚЫЗЫ", "works under a contract: refused as a job seeker in East Kazakhstan, whose regulation checks it (001:556-559)"},
}

// demoPassword is the password of the demo citizens' keys (*.p12) and of
// the provider's key.
const demoPassword = pki.DefaultPassword

// demoAccountPassword is the portal password of a demo citizen's account
// (egovctl demo registers it; egovctl up prints it).
func demoAccountPassword(iin string) string { return "Demo-parol-" + iin[:4] }

func up(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("up", stderr)
	var (
		dataDir       = fs.String("data", "data", "directory for the test PKI and demo citizens (created on first start)")
		listen        = fs.String("listen", "127.0.0.1:8080", "portal address: the citizen's pages at /, the API at /api/v1")
		signerURL     = fs.String("signer-url", "wss://127.0.0.1:13579", "where the pages find NCALayer (or egovctl signer) on the citizen's computer")
		cabinetPage   = fs.Int("cabinet-page-size", 10, "messages a page of the personal cabinet lists")
		secureCookies = fs.Bool("secure-cookies", false, "mark the pages' cookies Secure: the portal and the desks are reached over TLS (a proxy in front)")
		busListen     = fs.String("bus-listen", "127.0.0.1:8081", "SHEP bus address")
		ocspListen    = fs.String("ocsp-listen", "127.0.0.1:8082", "OCSP responder address")
		routing       = fs.String("routing", "", "bus routing table (default: the built-in one, as fixtures/shep/routing.json)")
		persons       = fs.String("persons", "", "persons register data set (default: the built-in one, as fixtures/gbdfl/persons.json)")
		contractsFile = fs.String("contracts", "", "data set of the register of employment contracts (default: the built-in one, as fixtures/contracts/contracts.json)")
		assisted      = fs.String("assistance", "", "data set of the register of recipients of targeted social assistance (default: the built-in one, as fixtures/tsa/families.json)")
		powersFile    = fs.String("powers", "", "data set of ЕНИС, the register of notarised powers of attorney (default: the built-in one, as fixtures/enis/powers.json)")
		phones        = fs.String("phones", "", "mobile citizens' register data set (default: the built-in one, as fixtures/mobile/phones.json)")
		counterListen = fs.String("counter-listen", "127.0.0.1:8084", "the State Corporation's workstation (АРМ ИИС ГК) API; empty: none")
		operatorsFile = fs.String("operators", "", "the State Corporation's operators (default: the built-in one, as fixtures/counter/operators.json)")
		centreListen  = fs.String("centre-listen", "127.0.0.1:8085", "the employment centres' desk API (S2, S3; the same API as the counter's); empty: none")
		specialists   = fs.String("specialists", "", "the employment centres' specialists (default: the built-in one, as fixtures/employment-centre/specialists.json)")
		smsListen     = fs.String("sms-listen", "127.0.0.1:8083", "the SMS gateway's outbox view for testers (egovctl sms outbox); empty: none")
		metricsAt     = fs.String("metrics-listen", "127.0.0.1:9090", "Prometheus metrics of the portal, the bus and the process, on their own listener; empty: none")
		pace          = fs.String("pace", "fast", "the providers' pace: fast, or regulation (waits the regulation's durations)")
		factor        = fs.Float64("pace-factor", 0.01, "scale of the regulation's durations with --pace regulation")
		redisURL      = fs.String("redis", "", "Redis URL (none: an embedded in-memory Redis on a loopback port)")
		prefix        = fs.String("key-prefix", "", "prefix of every Redis key (to share a Redis)")
		waitN         = fs.Int("redis-wait-replicas", 0, "replicas that must acknowledge a write the product answers accepted for (Redis WAIT; 0: none, as before)")
		waitFor       = fs.Duration("redis-wait-timeout", redisconn.DefaultWaitTimeout, "how long to wait for them before answering unavailable")
		recordDir     = fs.String("record", "", "record every portal request and SHEP envelope with its answer into this corpus directory")
		mask          = fs.Bool("mask", false, "with --record: replace IINs, names, phone numbers, certificates and passwords consistently")
		attempts      = fs.Int64("attempts-per-minute", 20, "logins and registrations one client address may try a minute (raise for load tests)")
		workers       = fs.Int("labour-workers", 16, "processing workers of each provider's system")
		chain         = fs.Int("evidence-chain", shep.AnyEvidenceChain, "the evidence chain the bus appends to, 0 to 7 (-1: one at random; stacks sharing a Redis on different chains never wait for each other's evidence)")
		reviewEvery   = fs.Duration("review-every", time.Hour, "how often the providers look again at the registrations whose condition can lapse (a job seeker in East Kazakhstan who took up work is deregistered)")
		noLabour      = fs.Bool("no-labour", false, "do not run the providers' systems (labour market, АРМ РШЭП): requests wait in their queues (to measure the front door alone)")
		pprofAddr     = fs.String("pprof", "", "serve net/http/pprof on this address (profiling)")
		logLevel      = fs.String("log-level", "info", "log level: debug, info, warn or error")
		limits        = guardFlags(fs)
	)
	check(fs, oneOf("fast", "regulation"), "pace")
	check(fs, oneOf("debug", "info", "warn", "error"), "log-level")
	check(fs, positive, "pace-factor", "attempts-per-minute", "labour-workers", "cabinet-page-size")
	check(fs, positiveDuration, "review-every")
	check(fs, address, "listen", "bus-listen", "ocsp-listen")
	check(fs, optionalAddress, "sms-listen", "metrics-listen", "pprof", "counter-listen", "centre-listen")
	check(fs, validRedisURL, "redis")
	check(fs, settings.WebSocketURL, "signer-url")
	check(fs, settings.IntBetween(shep.AnyEvidenceChain, shep.EvidenceChains-1), "evidence-chain")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := upLogger(stderr, *logLevel)
	if err != nil {
		return err
	}

	authority, fresh, err := ensureDemoData(*dataDir, stdout)
	if err != nil {
		return err
	}
	rdb, usedRedis, stopRedis, err := openOrEmbedRedis(*redisURL, stdout)
	if err != nil {
		return err
	}
	defer stopRedis()
	log.Info("egovctl up starting", "redis", upRedisLabel(*redisURL), "key_prefix", *prefix, "data", *dataDir, "log_level", *logLevel)

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

	routes, err := shep.LoadRoutingOrBuiltIn(*routing)
	if err != nil {
		return err
	}
	durable := redisconn.Durability{Replicas: *waitN, Timeout: *waitFor}
	bus, err := shep.New(rdb, routes, shep.Config{KeyPrefix: *prefix, EvidenceChain: *chain, Verifier: verifier, Log: log,
		Ready: []ops.Check{upRevocationCheck(crl)}, Durability: durable})
	if err != nil {
		return err
	}
	defer bus.Close()
	// The registers, the SMS gateway: systems of their own that the
	// portal and the providers reach only through the bus's sync channel.
	if err := registers.Host(bus, registers.Files{Persons: *persons, Assistance: *assisted, Contracts: *contractsFile, Phones: *phones, Powers: *powersFile}); err != nil {
		return err
	}
	smsGateway := sms.New(rdb, sms.Config{KeyPrefix: *prefix, Log: log})
	bus.HandleSync(sms.ServiceID, smsGateway)

	cat, err := gateway.DefaultCatalogue()
	if err != nil {
		return err
	}
	// The providers' systems: the labour-market system (S1, S4 outside
	// Karaganda) and АРМ РШЭП (Karaganda's S1, S4 and S7), each with its
	// organisation's key and its bus credentials.
	providers := []struct {
		key      orgKey
		sender   soap.SenderInfo
		identity provider.Identity
	}{
		{key: labourProvider, sender: soap.SenderInfo{SenderID: labour.SenderID, Password: "labour-secret"}, identity: labour.Identity},
		{key: regionalDesk, sender: soap.SenderInfo{SenderID: regionaldesk.SenderID, Password: "rshep-secret"}, identity: regionaldesk.Identity},
	}
	providerBINs := map[string]string{}
	var systems []*provider.System
	for _, p := range providers {
		signer, err := signing.LoadSigner(filepath.Join(*dataDir, "pki", "keys", p.key.file+".p12"), demoPassword)
		if err != nil {
			return err
		}
		sys, err := p.identity.New(rdb, provider.Config{Bus: bus, Sender: p.sender, Signer: signer, Verifier: verifier,
			Pace: *pace, PaceFactor: *factor, Log: log, KeyPrefix: *prefix, Workers: *workers, StepDurations: cat.PortalTerm, ReviewEvery: *reviewEvery, Durability: durable,
			Counters: map[string]provider.Filer{
				counter.SenderID:                {BIN: stateCorporationBIN, Filed: counter.StateCorporation.Filed, Channels: counter.StateCorporation.Channels},
				counter.EmploymentCentre.System: {BIN: counter.EmploymentCentre.BIN, Filed: counter.EmploymentCentre.Filed, Channels: counter.EmploymentCentre.Channels}},
			Cabinets: map[string]string{counter.SenderID: "egov-portal"}, FiledThrough: cat.DeskChannel})
		if err != nil {
			return err
		}
		providerBINs[p.sender.SenderID] = signing.IdentityOf(signer.Certificate).BIN
		systems = append(systems, sys)
	}
	app, err := gateway.New(rdb, gateway.Config{KeyPrefix: *prefix, Verifier: verifier, Bus: bus, Catalogue: cat,
		Sender:       soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"},
		ProviderBINs: providerBINs, CounterBINs: map[string]string{counter.SenderID: stateCorporationBIN}, Log: log,
		AttemptsPerMinute: *attempts, Durability: durable})
	if err != nil {
		return err
	}

	// The State Corporation's workstation: its operators file requests at
	// a counter, signed with their own keys, through the bus.
	staff, err := counter.StateCorporation.LoadStaff(*operatorsFile)
	if err != nil {
		return err
	}
	centreStaff, err := counter.EmploymentCentre.LoadStaff(*specialists)
	if err != nil {
		return err
	}
	cal, err := gateway.DefaultCalendar()
	if err != nil {
		return err
	}
	workstation, err := counter.New(rdb, counter.Config{KeyPrefix: *prefix, Bus: bus, Sender: soap.SenderInfo{SenderID: counter.SenderID, Password: "counter-secret"},
		Operators: staff, Catalogue: cat, Calendar: cal, Verifier: verifier, BIN: stateCorporationBIN, ProviderBINs: providerBINs,
		Portal: "egov-portal", Log: log})
	if err != nil {
		return err
	}
	// The employment centres' desk: the same machinery, its own system on
	// the bus, its own specialists and organisation (S2, S3).
	centre, err := counter.New(rdb, counter.Config{Desk: counter.EmploymentCentre, KeyPrefix: *prefix, Bus: bus,
		Sender:    soap.SenderInfo{SenderID: counter.EmploymentCentre.System, Password: "czn-secret"},
		Operators: centreStaff, Catalogue: cat, Calendar: cal, Verifier: verifier, BIN: counter.EmploymentCentre.BIN, ProviderBINs: providerBINs, Log: log})
	if err != nil {
		return err
	}

	busHandler := bus.Handler()
	if *noLabour {
		systems = nil
	}
	metrics := upRegistry(bus, systems)
	portalHandler := app.Handler(gateway.HTTPOptions{Metrics: metrics, Health: []gateway.HealthCheck{
		{Name: "revocation", Check: func(context.Context) error { return crl.Fresh(time.Now()) }}},
		Pages: &gateway.PageOptions{SignerURL: *signerURL, CabinetPageSize: *cabinetPage, SecureCookies: *secureCookies}})
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
		{"counter", *counterListen, workstation.HandlerWith(&counter.PageOptions{SignerURL: *signerURL, SecureCookies: *secureCookies})},
		{"employment centre desk", *centreListen, centre.HandlerWith(&counter.PageOptions{SignerURL: *signerURL, SecureCookies: *secureCookies})},
		{"portal API", *listen, portalHandler},
		{"metrics and probes", *metricsAt, upOpsHandler(app, crl, metrics)},
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(servers))
	bound := map[string]string{} // listener name → the address it got (--listen 127.0.0.1:0 gets a port)
	for _, s := range servers {
		if s.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		log.Info("listening", "listener", s.name, "addr", ln.Addr().String())
		bound[s.name] = ln.Addr().String()
		srv := httpguard.Server(s.handler, *limits)
		srv.Addr = ln.Addr().String()
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
			upShutdown(log, s.name, srv)
		}()
	}
	runs := []func(context.Context){app.Run, workstation.Run, centre.Run,
		func(ctx context.Context) { crl.Run(ctx, time.Minute, log) },
		func(ctx context.Context) { periodic.Every(ctx, time.Hour, func(context.Context) { _ = writeCRL() }) },
		func(ctx context.Context) {
			periodic.Every(ctx, time.Minute, func(ctx context.Context) { _, _ = bus.Trim(ctx) })
		},
		func(ctx context.Context) {
			periodic.Every(ctx, shep.CrossAnchorEvery, func(ctx context.Context) {
				if _, err := bus.CrossAnchor(ctx); err != nil {
					log.Warn("cross-anchoring the evidence chains failed", "err", err)
				}
			})
		},
	}
	for _, sys := range systems {
		runs = append(runs, sys.Run)
	}
	for _, run := range runs {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}

	st := stackState{Redis: usedRedis, Embedded: *redisURL == "", KeyPrefix: *prefix, Portal: "http://" + bound["portal API"],
		Bus: "http://" + bound["SHEP bus"], OCSP: "http://" + bound["OCSP responder"] + "/", PID: os.Getpid(), Started: time.Now().UTC()}
	if a := bound["SMS outbox view"]; a != "" {
		st.SMS = "http://" + a
	}
	if a := bound["counter"]; a != "" {
		st.Counter = "http://" + a
	}
	if a := bound["employment centre desk"]; a != "" {
		st.Centre = "http://" + a
	}
	if a := bound["metrics and probes"]; a != "" {
		st.Metrics = "http://" + a + "/metrics"
	}
	removeStack, err := writeStack(*dataDir, st)
	if err != nil {
		return err
	}
	defer removeStack()
	printUp(stdout, st, staff, centreStaff, *dataDir, crlPath, fresh)
	<-ctx.Done()
	log.Info("egovctl up shutting down")
	upWait(log, wg.Wait, "listeners drained; relay, answer consumer, providers' workers, CRL refresh and trim stopped")
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// openOrEmbedRedis connects to url, or starts an in-process Redis on a
// loopback port; it returns the URL that reaches the one in use.
func openOrEmbedRedis(url string, stdout io.Writer) (redis.UniversalClient, string, func(), error) {
	if url != "" {
		rdb, err := redisconn.Open(url)
		if err != nil {
			return nil, "", nil, fmt.Errorf("%w: --redis: %v", errUsage, err)
		}
		if err := rdb.Ping(context.Background()).Err(); err != nil {
			return nil, "", nil, fmt.Errorf("redis %s: %w", redisconn.Describe(rdb), err)
		}
		fmt.Fprintf(stdout, "Using Redis at %s.\n", redact(url))
		return rdb, url, func() { _ = rdb.Close() }, nil
	}
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	if err := m.Start(); err != nil {
		return nil, "", nil, err
	}
	embedded := "redis://" + m.Addr() + "/0"
	fmt.Fprintf(stdout, "WARNING: EGOV_REDIS_URL is not set: using an embedded in-memory Redis at %s. Nothing is durable;\n", embedded)
	fmt.Fprintln(stdout, "         every request and result is lost when this process stops.")
	rdb, err := upEmbeddedClient(m.Addr())
	if err != nil {
		m.Close()
		return nil, "", nil, err
	}
	return rdb, embedded, func() { _ = rdb.Close(); m.Close() }, nil
}

// printUp tells the operator what runs, how to log in and how to reach it.
func printUp(w io.Writer, st stackState, staff, centreStaff *counter.Operators, dataDir, crlPath string, fresh bool) {
	off := func(v, what string) string {
		if v == "" {
			return "off"
		}
		return v + what
	}
	redisNote := "(durable as that Redis is)"
	if st.Embedded {
		redisNote = "(embedded, in memory: lost when this process stops)"
	}
	fmt.Fprintf(w, `
egov-gateway is up.
  portal pages    %[1]s/   (sign through NCALayer, or: egovctl signer --key FILE)
  portal API      %[1]s/api/v1   (OpenAPI: /api/v1/openapi.yaml, probes: /livez, /readyz)
  SHEP bus        %s/shep/async, /shep/sync
  OCSP responder  %s
  SMS outbox      %s
  metrics         %s
  Redis           %s, key prefix %q %s
  test PKI        %s (trust: %s, CRL: %s)
  state           %s (what the commands below read through --data; removed when this stops)
`, st.Portal, st.Bus, st.OCSP, off(st.SMS, sms.OutboxPath+"?phone=+7…   (one-time codes)"), off(st.Metrics, "   (every part and the process, with /livez and /readyz; not on the public ports)"),
		redact(st.Redis), st.KeyPrefix, redisNote, filepath.Join(dataDir, "pki"), filepath.Join(dataDir, "pki", pki.TrustDir), crlPath,
		filepath.Join(dataDir, stackFile))
	citizens := "demo citizens   " + filepath.Join(dataDir, "citizens")
	if fresh {
		citizens += " (created on this first start)"
	}
	fmt.Fprintf(w, "\n%s; every key (*-sign.p12, *-auth.p12) has the password %s.\n", citizens, demoPassword)
	fmt.Fprintln(w, "  Portal accounts (egovctl demo registers them): log in with the IIN and the account password.")
	for _, c := range demoCitizens {
		fmt.Fprintf(w, "  %s  account password %s  %s\n      %s\n", c.iin, demoAccountPassword(c.iin), c.name, c.note)
	}
	printOperators(w, "State Corporation counter", "operator", st.Counter, staff, dataDir)
	printOperators(w, "Employment centres' desk", "specialist", st.Centre, centreStaff, dataDir)
	d := dataDir
	if strings.ContainsAny(d, " \t'\"") {
		d = strconv.Quote(d)
	}
	redisFlags := "--redis " + redact(st.Redis)
	if st.KeyPrefix != "" {
		redisFlags += " --prefix " + st.KeyPrefix
	}
	fmt.Fprintf(w, `
Reach this stack from another terminal:
  egovctl demo --data %[1]s                 a citizen's whole journey (or: make demo)
  egovctl evidence verify --data %[1]s      the bus's evidence chain (or: %[2]s)
  egovctl shep dead-letters --data %[1]s    stuck messages (or: %[2]s)
`, d, redisFlags)
	if st.SMS != "" {
		fmt.Fprintf(w, "  egovctl sms outbox --data %s --phone +7…   one-time codes (or: --url %s)\n", d, st.SMS)
	}
	fmt.Fprintf(w, "  egovctl replay --data %s               the curated corpus (built in), adapted to this stack\n", d)
	fmt.Fprintf(w, "  egovctl loadtest --data %s --rate 20 --duration 10s\nStop with Ctrl-C.\n", d)
}

// ensureDemoData creates, on first start, the test PKI (root, issuing CA,
// the employment centre's authorised person) and the demo citizens' keys.
func ensureDemoData(dir string, stdout io.Writer) (*pki.Authority, bool, error) {
	pkiDir := filepath.Join(dir, "pki")
	validFor := func() (time.Time, time.Time) {
		now := time.Now().UTC().Truncate(time.Second)
		return now.Add(-24 * time.Hour), now.AddDate(2, 0, 0)
	}
	if a, err := pki.Open(pkiDir); err == nil {
		// A data directory from before an organisation or a demo citizen
		// was added gets its keys now.
		from, until := validFor()
		if issued, err := ensureOrgKeys(a, pkiDir, from, until, demoPassword); err != nil {
			return nil, false, err
		} else if len(issued) > 0 {
			fmt.Fprintf(stdout, "Issued the organisation keys this data directory lacked under %s/keys: %s.\n", pkiDir, strings.Join(issued, ", "))
		}
		if issued, err := ensureDemoCitizens(a, dir, from, until); err != nil {
			return nil, false, err
		} else if len(issued) > 0 {
			fmt.Fprintf(stdout, "Issued the keys of the demo citizens this data directory lacked: %d.\n", len(issued))
		}
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
	if _, err := ensureOrgKeys(a, pkiDir, from, until, demoPassword); err != nil {
		return nil, false, err
	}
	if _, err := ensureDemoCitizens(a, dir, from, until); err != nil {
		return nil, false, err
	}
	return a, true, nil
}

// ensureDemoCitizens issues the signing and authentication keys of every
// demo citizen who has none under dir/citizens (all of them on a first
// start; one added to demoCitizens since, on a later one), writes their
// README.txt, and returns the IINs it issued keys for.
func ensureDemoCitizens(a *pki.Authority, dir string, from, until time.Time) ([]string, error) {
	citizens := filepath.Join(dir, "citizens")
	if err := os.MkdirAll(citizens, 0o755); err != nil {
		return nil, err
	}
	var issued []string
	var readme strings.Builder
	readme.WriteString("Demo citizens of the test PKI (TEST ONLY). Key password: " + demoPassword + "\n\n")
	for _, c := range demoCitizens {
		if _, err := os.Stat(filepath.Join(citizens, c.iin+"-"+string(pki.KindSign)+".p12")); errors.Is(err, fs.ErrNotExist) {
			for _, kind := range []pki.Kind{pki.KindSign, pki.KindAuth} {
				iss, err := a.Issue(pki.IssueOptions{IIN: c.iin, Name: c.name, Kind: kind, NotBefore: from, NotAfter: until})
				if err != nil {
					return issued, err
				}
				if err := a.Write(iss, filepath.Join(citizens, c.iin+"-"+string(kind)), demoPassword); err != nil {
					return issued, err
				}
			}
			issued = append(issued, c.iin)
		} else if err != nil {
			return issued, err
		}
		fmt.Fprintf(&readme, "%s  %s\n    %s-sign.p12 (signing), %s-auth.p12 (login by signature)\n    portal account password (once egovctl demo registered it): %s\n    %s\n",
			c.iin, c.name, c.iin, c.iin, demoAccountPassword(c.iin), c.note)
	}
	return issued, os.WriteFile(filepath.Join(citizens, "README.txt"), []byte(readme.String()), 0o644)
}

// operatorPasswords are the test passwords of the built-in operators and
// specialists (fixtures/counter/operators.json and
// fixtures/employment-centre/specialists.json keep only their hashes).
var operatorPasswords = map[string]string{"krg-op-01": "Operator-KRG-01", "ala-op-03": "Operator-ALA-03",
	"czn-ala-01": "Specialist-ALA-01", "czn-vko-01": "Specialist-VKO-01"}

// printOperators tells how to log in at a desk (the State Corporation's
// counter, the employment centres').
func printOperators(w io.Writer, desk, role, url string, staff *counter.Operators, dataDir string) {
	if url == "" {
		return
	}
	fmt.Fprintf(w, "\n%s  pages %s/, API %s%s (OpenAPI: %s/openapi.yaml); its %ss log in with login and password:\n", desk, url, url, counter.APIPrefix, counter.APIPrefix, role)
	ops := staff.All()
	slices.SortFunc(ops, func(a, b *counter.Operator) int { return strings.Compare(a.Login, b.Login) })
	for _, op := range ops {
		pw := operatorPasswords[op.Login]
		if pw == "" {
			pw = "(your data set's)"
		}
		fmt.Fprintf(w, "  %s %s  password %s  office %s (%s)  signs with %s (password %s)\n", role, op.Login, pw, op.Office.Code, op.Office.Region,
			filepath.Join(dataDir, "pki", "keys", op.Key+".p12"), demoPassword)
	}
}
