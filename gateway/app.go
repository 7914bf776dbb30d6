// Package gateway is the portal's front door: citizens' accounts and
// sessions, the catalogue of services, the submission of signed requests
// and their relay to the SHEP bus through an outbox, the consumer of the
// providers' answers, and the personal cabinet. HTTP (echo) lives in
// http.go; the rest does not know about it.
package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"egov/internal/redisconn"
	"egov/internal/retry"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

// Config wires the gateway.
type Config struct {
	// KeyPrefix is put before every Redis key (tests use their own).
	KeyPrefix string
	// Verifier checks citizens' request signatures (signing keys only).
	Verifier *signing.Verifier
	// AuthVerifier checks signed login challenges (authentication keys allowed).
	AuthVerifier *signing.Verifier
	// ResultVerifier checks providers' signed results.
	ResultVerifier *signing.Verifier
	// Bus is the SHEP bus; Sender the portal's credentials on it.
	Bus    shep.Client
	Sender soap.SenderInfo
	// ProviderBINs maps a recipient system to the BIN of the organisation
	// whose authorised person must sign its results.
	ProviderBINs map[string]string
	// ProviderRoles lists, per recipient system, the roles of its
	// organisation whose holders may sign its results (default: the first
	// head and a person with signing right, signing.SigningRoles()). A
	// result signed by anyone else of that BIN, an employee say, is
	// refused as signer-not-authorised.
	ProviderRoles map[string][]signing.KeyUser
	// CounterBINs are, per system on the bus, the BIN whose operators file
	// requests for citizens at a counter (the State Corporation's
	// "gk-counter"): such a system may tell the portal of a filing, signed
	// by one of them, and hand on its provider's result, so that the
	// citizen's cabinet shows it (counter.go).
	CounterBINs map[string]string
	// IssueWindow is how far a request's IssuedAt may lie from now, either
	// way (default 10 minutes).
	IssueWindow time.Duration
	// MaxXML bounds the signed XML part, MaxAttachment one attachment,
	// MaxBody the whole submission (defaults 512 KiB, 10 MiB, 50 MiB).
	// Attachments travel to the provider through the bus's attachment
	// store, by reference (DESIGN §3.1).
	MaxXML, MaxAttachment, MaxBody int64
	// AttemptsPerMinute is how many attempts at the unauthenticated
	// endpoints (registration, code requests, logins, challenges) one
	// client address may make a minute (default 20); load tests raise it.
	AttemptsPerMinute int64
	// Throttle tunes the network-prefix limit, the delay of password
	// logins after failures and the challenge key (ThrottleConfig).
	Throttle ThrottleConfig
	// RelayBackoff is the first retry delay of the outbox relay and of the
	// answer consumer (default 1 s, doubling up to 1 min, each delay spread
	// ±50 % by jitter; internal/retry).
	RelayBackoff time.Duration
	// PollWait is how long one poll of the bus for answers may wait when
	// there are none (default 10 s).
	PollWait time.Duration
	// SMSEvery is how often the queue of status notices by SMS is looked
	// at, and the first pause before a notice is tried again (default 2 s,
	// doubling up to 5 min; notices.go).
	SMSEvery time.Duration
	// StuckAfter is how long a relayed request may wait for its answer
	// before the portal asks the bus whether it is still being delivered
	// (default 15 min; again every StuckAfter while it waits).
	StuckAfter time.Duration
	// LateAnswersFor is how long after a request ends the bus's
	// correlation of it is kept (default 30 days): an answer that comes
	// later than the result is kept in the request's history until then,
	// and after it refused (the bus's dead letters show it).
	LateAnswersFor time.Duration
	// Durability: a submission is answered 202 only once the replicas
	// asked for have its record (WAIT); otherwise 503 unavailable, and
	// the citizen's retry of the same request finds it (request-replayed)
	// if the master kept it.
	Durability redisconn.Durability
	Catalogue  *Catalogue
	Calendar   *Calendar
	Now        func() time.Time
	Log        *slog.Logger
}

// App is the gateway on one Redis.
type App struct {
	cfg          Config
	rdb          redis.UniversalClient
	verifier     *signing.Verifier
	authVerifier *signing.Verifier
	throttle     *throttle
	log          *slog.Logger
	// hintLost wakes the relay for an early sweep of the outboxes.
	hintLost chan struct{}
	metrics  *appMetrics
	// smsBackoff paces the tries of a status notice by SMS.
	smsBackoff *retry.Backoff
}

// New returns the gateway. Run starts its background work.
func New(rdb redis.UniversalClient, cfg Config) (*App, error) {
	if cfg.IssueWindow <= 0 {
		cfg.IssueWindow = 10 * time.Minute
	}
	if cfg.MaxXML <= 0 {
		cfg.MaxXML = 512 << 10
	}
	if cfg.MaxAttachment <= 0 {
		cfg.MaxAttachment = 10 << 20
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 50 << 20
	}
	if cfg.AttemptsPerMinute <= 0 {
		cfg.AttemptsPerMinute = attemptsPerMin
	}
	if cfg.StuckAfter <= 0 {
		cfg.StuckAfter = 15 * time.Minute
	}
	if cfg.LateAnswersFor <= 0 {
		cfg.LateAnswersFor = 30 * 24 * time.Hour
	}
	if cfg.RelayBackoff <= 0 {
		cfg.RelayBackoff = time.Second
	}
	if cfg.PollWait <= 0 {
		cfg.PollWait = 10 * time.Second
	}
	if cfg.SMSEvery <= 0 {
		cfg.SMSEvery = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	var err error
	if cfg.Catalogue == nil {
		if cfg.Catalogue, err = DefaultCatalogue(); err != nil {
			return nil, err
		}
	}
	if cfg.Calendar == nil {
		if cfg.Calendar, err = DefaultCalendar(); err != nil {
			return nil, err
		}
	}
	if cfg.ResultVerifier == nil {
		cfg.ResultVerifier = cfg.Verifier
	}
	auth := cfg.AuthVerifier
	if auth == nil && cfg.Verifier != nil {
		v := cfg.Verifier
		auth = &signing.Verifier{Trust: v.Trust, Revocation: v.Revocation, Limits: v.Limits, Now: v.Now, AllowAuthKeys: true}
	}
	th, err := newThrottle(rdb, &cfg)
	if err != nil {
		return nil, err
	}
	return &App{cfg: cfg, rdb: rdb, verifier: cfg.Verifier, authVerifier: auth, throttle: th, log: cfg.Log, hintLost: make(chan struct{}, 1),
		metrics: newAppMetrics(), smsBackoff: retry.New(cfg.SMSEvery, 5*time.Minute)}, nil
}

func (a *App) now() time.Time { return a.cfg.Now() }

func (a *App) key(parts ...string) string {
	k := a.cfg.KeyPrefix + "gw"
	for _, p := range parts {
		k += ":" + p
	}
	return k
}

// Run relays the outbox, consumes the providers' answers and sends the
// status notices by SMS until ctx ends.
func (a *App) Run(ctx context.Context) {
	done, sms := make(chan struct{}), make(chan struct{})
	go func() { a.runRelay(ctx); close(done) }()
	go func() { a.runSMS(ctx); close(sms) }()
	a.runConsumer(ctx)
	<-done
	<-sms
}
