// Package provider is the machinery every provider's system shares: it
// polls the system's SHEP queue, verifies each request for itself (the
// citizen's signature and certificate, the delivered attachments), asks
// the registers over the bus's synchronous channel, decides once per
// request by the system's rules, and answers with a notification and a
// result signed by the provider's authorised person. The labour-market
// system (package labour) and АРМ РШЭП (package regionaldesk) are its
// configurations.
package provider

import (
	"cmp"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"egov"
	"egov/document"
	"egov/internal/periodic"
	"egov/internal/redisconn"
	"egov/internal/redisscript"
	"egov/internal/retry"
	"egov/registers/contracts"
	"egov/registers/enis"
	"egov/registers/tsa"
	"egov/shep"
	"egov/shep/gbdfl"
	"egov/shep/soap"
	"egov/signing"
)

// Config wires one provider's system.
type Config struct {
	// Name is how the system is called in logs ("labour-market system");
	// Namespace begins each of its Redis keys ("lm"); Metrics names its
	// metrics (egov_<Metrics>_decisions_total). All three are required.
	Name, Namespace, Metrics string

	Bus    shep.Client
	Sender soap.SenderInfo
	// Durability: a decision is stored on the replicas asked for before
	// its result is sent (redisconn.RunScript).
	Durability redisconn.Durability
	// Signer is the provider's authorised person (an organisation key).
	Signer *signing.Signer
	// Verifier checks the citizen's signature and certificate: the system
	// acts only on what it verified itself, whatever the bus checked.
	Verifier *signing.Verifier
	// Rules decide; required.
	Rules *Rules
	// Counters are the desks on the bus whose operators file requests for
	// applicants (the State Corporation's counter "gk-counter", the
	// employment centres' "czn-desk"), each with what it may file. A
	// request that names a filing is acted on only when one of them sent
	// it, naming its channel, through one of its channels in the
	// catalogue for that service and region under that bus service
	// (FiledThrough), signed by an operator with the right to sign for its
	// BIN whose IIN the filing names; the representative's power of
	// attorney the system checks in ЕНИС itself where the flow asks ЕНИС.
	// Without counters every filing is rejected.
	Counters map[string]Filer
	// Cabinets name, per desk of Counters, the portal whose cabinets show
	// what it files (gk-counter → egov-portal): the end of a registration a
	// desk's request made is told there, not to the desk.
	Cabinets map[string]string
	// FiledThrough names the catalogue's desk channel that a filed request
	// of service in region comes through under busService, and its flow
	// (gateway.Catalogue.DeskChannel); "" where there is none. The
	// representative's power is asked of ЕНИС in G-A (003:298-300) and not
	// in G-B, whose operator checks it on paper (004:374-380); flows C and
	// P take the applicant in person. Nil: no filing is taken.
	FiledThrough func(service, region, busService string) (channel, flow string)
	// KeyPrefix is put before every Redis key.
	KeyPrefix string
	// Services are the codes of the services the system provides
	// (required); the first is the service id its polls name (the bus
	// hands out the system's own queue). A request of any other service is
	// refused with service-unknown.
	Services []string
	// Batch is getMessages' amount, Workers the processing pool (defaults 50, 16).
	Batch, Workers int
	// Signers bounds how many results are signed at once (default: one
	// fewer than the cores, at least one). Signing is the system's largest
	// cost; were all workers to sign at once they would take every core
	// from whatever shares the machine, the portal's front door included.
	Signers int
	// Pace: "fast" answers at once; "regulation" waits the regional
	// regulation's step durations multiplied by PaceFactor before the answer.
	Pace       string
	PaceFactor float64
	// StepDurations returns the regulation's total for a service and region
	// (used with Pace "regulation").
	StepDurations func(service, region string) time.Duration
	// PollWait is how long one poll may wait when the queue is empty
	// (default 10 s); PollBackoff the first delay after a failed poll
	// (default 1 s, doubling up to 30 s, jittered; internal/retry).
	PollWait, PollBackoff time.Duration
	// ReviewEvery is how often a registration whose condition can lapse
	// is looked at again (default one hour); Run reviews what is due, and
	// sends the end notices not yet sent, every minute or ReviewEvery if
	// shorter.
	ReviewEvery time.Duration
	Now         func() time.Time
	Log         *slog.Logger
}

// System is one provider's system on one Redis.
type System struct {
	cfg     Config
	rdb     redis.UniversalClient
	signing chan struct{} // one token per signature in progress
	metrics *metrics
}

// Identity names one provider's system: what Config's Name, Namespace,
// Metrics and Services default to.
type Identity struct {
	Name, Namespace, Metrics string
	Services                 []string
}

// New returns the system id names, with cfg's empty names and services
// taken from id and its rules, if none, the Standards'.
func (id Identity) New(rdb redis.UniversalClient, cfg Config) (*System, error) {
	cfg.Name = cmp.Or(cfg.Name, id.Name)
	cfg.Namespace = cmp.Or(cfg.Namespace, id.Namespace)
	cfg.Metrics = cmp.Or(cfg.Metrics, id.Metrics)
	if len(cfg.Services) == 0 {
		cfg.Services = id.Services
	}
	if cfg.Rules == nil {
		var err error
		if cfg.Rules, err = DefaultRules(); err != nil {
			return nil, err
		}
	}
	return New(rdb, cfg)
}

// New returns the system; Run polls until its context ends.
func New(rdb redis.UniversalClient, cfg Config) (*System, error) {
	if cfg.Bus == nil || cfg.Signer == nil || cfg.Verifier == nil {
		return nil, errors.New("provider: a bus, the provider's signer and a verifier of citizens' signatures are required")
	}
	if cfg.Name == "" || cfg.Namespace == "" || cfg.Metrics == "" || cfg.Rules == nil || len(cfg.Services) == 0 {
		return nil, errors.New("provider: the system's name, key namespace, metrics name, rules and services are required")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 50
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Signers <= 0 {
		cfg.Signers = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if cfg.PollWait <= 0 {
		cfg.PollWait = 10 * time.Second
	}
	if cfg.PollBackoff <= 0 {
		cfg.PollBackoff = time.Second
	}
	if cfg.ReviewEvery <= 0 {
		cfg.ReviewEvery = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &System{cfg: cfg, rdb: rdb, signing: make(chan struct{}, cfg.Signers), metrics: newMetrics(cfg.Metrics)}, nil
}

func (s *System) key(parts ...string) string {
	k := s.cfg.KeyPrefix + s.cfg.Namespace
	for _, p := range parts {
		k += ":" + p
	}
	return k
}

// Run polls the system's queue in batches and processes them with a
// bounded pool of workers. Each message is confirmed only after its
// answers are on the bus; a failure refuses it and it comes back.
func (s *System) Run(ctx context.Context) {
	jobs := make(chan soap.AsyncMessage)
	var wg sync.WaitGroup
	for i := 0; i < s.cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range jobs {
				err := s.Process(ctx, m)
				if ctx.Err() != nil {
					continue // shutting down: the lease expires and the bus hands it out again
				}
				note := shep.NewDeliveryNotification(s.cfg.Sender, m.MessageInfo, err == nil, fmt.Sprint(err))
				var rej *Rejection
				switch {
				case err == nil:
					s.metrics.messages.WithLabelValues("answered").Inc()
				case errors.As(err, &rej):
					s.metrics.messages.WithLabelValues("rejected").Inc()
					// Nobody can be answered for a document that does not
					// verify: the bus keeps it as a dead letter, with the
					// reason, and the portal shows its request as stuck.
					s.cfg.Log.Warn(s.cfg.Name+": request rejected", "message", m.MessageInfo.MessageID, "code", rej.Code, "err", rej.Err)
					note = shep.NewRejection(s.cfg.Sender, m.MessageInfo, string(rej.Code), rej.Error())
				default:
					s.metrics.messages.WithLabelValues("failed").Inc()
					s.cfg.Log.Warn(s.cfg.Name+": processing failed, the message will come back", "message", m.MessageInfo.MessageID, "err", err)
				}
				if _, nerr := s.cfg.Bus.SendDeliveryNotification(ctx, note); nerr != nil {
					s.cfg.Log.Warn(s.cfg.Name+": delivery notification failed", "message", m.MessageInfo.MessageID, "err", nerr)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		periodic.Every(ctx, min(s.cfg.ReviewEvery, time.Minute), func(ctx context.Context) {
			if _, err := s.Review(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Log.Warn(s.cfg.Name+": review of the registrations failed; it goes on at the next", "err", err)
			}
		})
	}()
	backoff := retry.New(s.cfg.PollBackoff, 30*time.Second)
	for ctx.Err() == nil {
		resp, err := s.cfg.Bus.GetMessages(ctx, shep.NewGetMessages(s.cfg.Sender, s.cfg.Services[0], s.cfg.Batch, s.cfg.PollWait))
		if err != nil {
			if ctx.Err() == nil {
				d := backoff.Next()
				s.cfg.Log.Warn(s.cfg.Name+": polling failed", "retry_in", d, "err", err)
				sleep(ctx, d)
			}
			continue
		}
		backoff.Reset()
		for _, m := range resp.Response.Messages {
			select {
			case jobs <- m:
			case <-ctx.Done():
			}
		}
	}
	close(jobs)
	wg.Wait()
}

// record is what the system keeps per request: its decision and the
// signed answer, so that processing a message again answers the same.
type record struct {
	Decision Decision `json:"decision"`
	Number   string   `json:"number,omitempty"`
	Date     string   `json:"date"`
	Result   string   `json:"result"`
}

// Rejection is a request the system will never act on, because it cannot
// tell who sent it: its signature or certificate does not hold. It is not
// answered (there is nobody verified to answer) but rejected to the bus,
// which keeps it as a dead letter with the code.
type Rejection struct {
	Code egov.Code
	Err  error
}

func (r *Rejection) Error() string { return "rejected (" + string(r.Code) + "): " + r.Err.Error() }
func (r *Rejection) Unwrap() error { return r.Err }

// Process handles one request message: verify it, decide (once per
// sender, applicant and request id), send the NOTIFICATION and the signed
// RESPONSE (both idempotent on the bus).
func (s *System) Process(ctx context.Context, m soap.AsyncMessage) error {
	info := m.MessageInfo
	if info.MessageType != soap.TypeRequest {
		return nil // nothing else is addressed to a provider
	}
	res, err := s.cfg.Verifier.Verify(ctx, []byte(m.MessageData.Data))
	if err != nil {
		if !egov.Permanent(err) {
			return fmt.Errorf("citizen signature: %w", err) // may verify later
		}
		return &Rejection{Code: egov.ErrorCode(err), Err: err}
	}
	app, err := document.ReadRequest(res.Element)
	if err != nil {
		return &Rejection{Code: egov.ErrorCode(err), Err: err}
	}
	if app.Filing != nil {
		if err := s.checkFiler(app, res, info); err != nil {
			return &Rejection{Code: egov.ErrorCode(err), Err: err}
		}
	}
	rec, err := s.decideOnce(ctx, app, res, info)
	if err != nil {
		return err
	}
	notice := string((&document.Notice{RequestID: app.RequestID, Status: document.StatusAcceptedForProcessing, Applicant: app.Applicant.IIN}).Document())
	// Answers are idempotent per request message: the correlation names
	// it, whoever sent it and whatever id it carries.
	if _, err := s.cfg.Bus.SendMessage(ctx, shep.NewSendMessage(s.cfg.Sender, info.ServiceID, soap.TypeNotification, info.CorrelationID, notice,
		soap.Property{Key: shep.PropIdempotencyKey, Value: "notice-" + info.CorrelationID})); err != nil {
		return fmt.Errorf("notification: %w", err)
	}
	if s.cfg.Pace == "regulation" && s.cfg.StepDurations != nil {
		d := time.Duration(float64(s.cfg.StepDurations(app.ServiceCode, app.Region)) * s.cfg.PaceFactor)
		sleep(ctx, d)
	}
	if _, err := s.cfg.Bus.SendMessage(ctx, shep.NewSendMessage(s.cfg.Sender, info.ServiceID, soap.TypeResponse, info.CorrelationID, rec.Result,
		soap.Property{Key: shep.PropIdempotencyKey, Value: "result-" + info.CorrelationID})); err != nil {
		return fmt.Errorf("response: %w", err)
	}
	s.cfg.Log.Info(s.cfg.Name+": answered", "request", app.RequestID, "outcome", rec.Decision.Outcome, "ground", rec.Decision.Ground,
		"iin", signing.MaskIIN(app.Applicant.IIN))
	return nil
}

// decisionLockTTL bounds how long one worker may hold a request's decision.
const decisionLockTTL = 10 * time.Second

// claimScript returns the stored record of a request, or takes the right to
// decide it: one round trip for what was a read, a lock, a second read and
// the job-seeker lookup. Run twice with one token (the client sends a
// script again when its answer is late), it claims twice: the worker is
// not kept from its own decision by its own lock.
//
// KEYS: record, lock, current registration. ARGV: lock TTL (ms), this
// worker's lock token, registrationFields.
// Returns {"done", record}, {"busy"} or {"claimed", registrationFields…}.
var claimScript = redisscript.New(`
local rec = redis.call('GET', KEYS[1])
if rec then return {'done', rec} end
if not redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1], 'NX') and redis.call('GET', KEYS[2]) ~= ARGV[2] then
  return {'busy'}
end
local reg = redis.call('HMGET', KEYS[3], unpack(ARGV, 3))
return {'claimed', unpack(reg)}
`)

// storeScript keeps the decision with its signed result, files a
// registration or a referral or ends the registration, and releases the
// lock, all at once, if the lock is still this worker's: a worker whose
// lock ran out while it decided (a stalled process) stores nothing, and
// its message comes back for the decision another worker stored.
//
// KEYS: record, lock, current registration, referrals, ended registration.
// ARGV: record, outcome, number, decided at (ms), request id, referral,
// service, filing system, end ground, end notice, lock token, the number
// of the registration the claim read ("" for none), the decision's kind
// ("unemployed": the registration is made as unemployed too, S2), the
// applicant's surname and name, the request's region.
// Returns 1, also when this very record is stored already (the script
// run again after a late answer); 0 when the lock was no longer this
// worker's; -1 when the
// registration the decision ends was ended meanwhile (another request,
// the review): nothing is stored, and the request decided again finds
// no registration; -2 when the citizen's registration is no longer the
// one the decision was made on (another request of his, decided at the
// same time, registered or ended it): nothing is stored, and the request
// decided again sees the registration as it now is. The lock is per
// request; this check is what keeps two requests of one citizen from
// both registering him, nor as unemployed.
var storeScript = redisscript.New(endRegistrationLua + `
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
if redis.call('GET', KEYS[2]) ~= ARGV[11] then return 0 end
if (redis.call('HGET', KEYS[3], 'number') or '') ~= ARGV[12] or
   (ARGV[13] == 'unemployed' and redis.call('HEXISTS', KEYS[3], 'unemployed') == 1) then
  redis.call('DEL', KEYS[2])
  return -2
end
if ARGV[2] == 'deregistered' and endRegistration(KEYS[3], KEYS[5], ARGV[3], ARGV[4], ARGV[9], ARGV[10]) == 0 then
  redis.call('DEL', KEYS[2])
  return -1
end
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[2] == 'registered' and ARGV[13] == 'unemployed' then
  redis.call('HSET', KEYS[3], 'unemployed', ARGV[3], 'unemployedAt', ARGV[4], 'unemployedRequestId', ARGV[5], 'unemployedAs', ARGV[14])
elseif ARGV[2] == 'registered' then
  redis.call('HSET', KEYS[3], 'number', ARGV[3], 'registeredAt', ARGV[4], 'requestId', ARGV[5], 'service', ARGV[7], 'sender', ARGV[8], 'region', ARGV[15])
elseif ARGV[2] == 'referred' then
  redis.call('RPUSH', KEYS[4], ARGV[6])
end
redis.call('DEL', KEYS[2])
return 1
`)

// rewriteScript writes a stored decision again, unchanged: a write after
// the first, so that a WAIT after it covers both (replication keeps the
// master's order). KEYS: record.
var rewriteScript = redisscript.New(`
local v = redis.call('GET', KEYS[1])
if v then redis.call('SET', KEYS[1], v, 'KEEPTTL') end
return 0
`)

// releaseScript gives up a decision lock if it is still the worker's.
// KEYS: lock. ARGV: token.
var releaseScript = redisscript.New(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// busyWait is how long a copy of a request that another worker is deciding
// waits for that decision. A copy comes when the bus hands a message out
// again while its first delivery is still being worked on (the system was
// paused past the lease); refused at once, each copy would spend one of
// the message's few deliveries.
const busyWait = decisionLockTTL / 4

// claim runs claimScript, waiting up to busyWait while another worker
// holds the request. When the script fails it may still have run (its
// answer lost): a lock of this worker's is then given up, so that it does
// not keep the message's next delivery out for the lock's whole life.
func (s *System) claim(ctx context.Context, keys []string, args []any, token string) ([]any, error) {
	pause := 50 * time.Millisecond
	deadline := time.Now().Add(busyWait)
	for {
		claim, err := claimScript.Run(ctx, s.rdb, keys, args...).Slice()
		if err != nil {
			releaseScript.Run(context.WithoutCancel(ctx), s.rdb, keys[1:2], token)
			return nil, err
		}
		if claim[0] != "busy" || time.Now().Add(pause).After(deadline) {
			return claim, nil
		}
		sleep(ctx, pause)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		pause *= 2
	}
}

// decideOnce returns the stored decision for the request, or decides,
// registers and signs the result and stores them, exactly once per request
// id even under concurrent deliveries.
func (s *System) decideOnce(ctx context.Context, app *document.Request, signed *signing.Result, info soap.AsyncMessageInfo) (*record, error) {
	// One worker decides; a concurrent duplicate waits for it a little,
	// then is refused and comes back for the record. The lock outlives a
	// decision (a second or so) but not a lease (a crashed worker's
	// message comes back once its lease expires, and must find the lock
	// gone), nor the bus's retries of a refused message (1 + 2 + 4 + 8 s):
	// a lock left behind must not send the request to the dead letters.
	//
	// A request is known by who sent it, whose it is and its id: request
	// ids are unique per citizen only. All its keys share the applicant's
	// hash tag.
	tag := "{" + app.Applicant.IIN + "}"
	recordKey := s.key(tag, "request", info.Sender.SenderID, app.RequestID)
	keys := []string{recordKey, recordKey + ":lock", s.currentRegistration(app.Applicant.IIN), s.key(tag, "referrals")}
	token := uuid.NewString()
	args := []any{decisionLockTTL.Milliseconds(), token}
	for _, f := range registrationFields {
		args = append(args, f)
	}
	claim, err := s.claim(ctx, keys[:3], args, token)
	if err != nil {
		return nil, err
	}
	switch claim[0] {
	case "done":
		// The stored decision may be on the master alone (its first store
		// was not acknowledged by the replicas asked for): written again,
		// then WAIT, it is on them before its result goes out. A message
		// comes back seldom; the write is not worth a setting's branch.
		if err := redisconn.RunScript(ctx, s.rdb, s.cfg.Durability, rewriteScript, keys[:1]).Err(); err != nil {
			return nil, err
		}
		var rec record
		return &rec, json.Unmarshal([]byte(claim[1].(string)), &rec)
	case "busy":
		return nil, errors.New("another worker is deciding this request")
	}
	stored := false
	defer func() {
		if !stored {
			releaseScript.Run(context.WithoutCancel(ctx), s.rdb, keys[1:2], token)
		}
	}()
	now := s.cfg.Now()
	current := registrationFrom(claim[1:])
	facts := Facts{Now: now, AttachmentDigest: map[string]string{}, JobSeeker: current.Number != "", Unemployed: current.Unemployed != "",
		UnemployedAs: current.UnemployedAs}
	// What the decision asks of the bus (attachments, registers) must end
	// well before the lock does, or a second worker could decide too.
	askCtx, cancel := context.WithTimeout(ctx, decisionLockTTL/2)
	defer cancel()
	d, err := s.checkDelivery(askCtx, app, signed, info, facts.AttachmentDigest)
	if err != nil {
		return nil, err
	}
	if d.Ground == "" && !slices.Contains(s.cfg.Services, app.ServiceCode) {
		// The bus routed here a service this system does not provide.
		d = Decision{Outcome: document.OutcomeRefused, Ground: "service-unknown"}
	}
	if d.Ground == "" && app.Filing != nil && app.Filing.Representative != nil && s.asksPowers(app, info.ServiceID) {
		if held, err := s.checkPower(askCtx, app, now); err != nil {
			return nil, err
		} else if !held {
			d = Decision{Outcome: document.OutcomeRefused, Ground: "power-of-attorney-invalid"}
		}
	}
	if d.Ground == "" {
		if facts.Person, err = s.lookupPerson(askCtx, app.Applicant.IIN); err != nil {
			return nil, err
		}
		rules := s.cfg.Rules.Services[app.ServiceCode]
		if rules.Certificate {
			if facts.Assistance, err = s.lookupAssistance(askCtx, app.Applicant.IIN, now); err != nil {
				return nil, err
			}
		}
		if slices.Contains(rules.NoLabourActivityIn, app.Region) {
			if facts.Employed, err = s.lookupContracts(askCtx, app.Applicant.IIN, now); err != nil {
				return nil, err
			}
		}
		d = s.cfg.Rules.Decide(app, facts)
	}
	rec := &record{Decision: d, Date: now.In(egov.Almaty).Format(time.DateOnly)}
	var endGround, notice string
	switch d.Outcome {
	case document.OutcomeRefused:
	case document.OutcomeDeregistered:
		// The result names the registration that ends; whoever filed it
		// is told too.
		rec.Number, endGround = current.Number, d.Ground
		if notice, err = s.endNotice(app.Applicant.IIN, current, d.Ground, now); err != nil {
			return nil, err
		}
		if err := s.noteEnding(ctx, app.Applicant.IIN, current.Number, now); err != nil {
			return nil, err
		}
		keys = append(keys, s.endedRegistration(app.Applicant.IIN, current.Number))
	default:
		seq, err := s.rdb.Incr(ctx, s.key("sequence", app.ServiceCode)).Result()
		if err != nil {
			return nil, err
		}
		prefix := map[document.Outcome]string{document.OutcomeRegistered: "JS", document.OutcomeReferred: "REF", document.OutcomeCertificate: "TSA"}[d.Outcome]
		switch d.Kind {
		case KindUnemployed:
			prefix = "UNE"
		case KindUnemployedCertificate:
			prefix = "UNC"
		}
		rec.Number = fmt.Sprintf("%s-%d-%06d", prefix, now.In(egov.Almaty).Year(), seq)
		if d.Outcome == document.OutcomeRegistered && s.mayLapse(app.ServiceCode, app.Region) {
			// On the review list before it exists: a registration never
			// goes unwatched, and a member without one is dropped. A
			// registration as unemployed rides on the job seeker's, so
			// that one is watched: taking up work ends both.
			watched := rec.Number
			if d.Kind == KindUnemployed {
				watched = current.Number
			}
			if err := s.scheduleReview(ctx, app.Applicant.IIN, watched, now, false); err != nil {
				return nil, err
			}
		}
	}
	if len(keys) == 4 {
		keys = append(keys, keys[2]) // no registration ends: the script needs the slot, not the key
	}
	if rec.Result, err = s.resultDocument(app, rec); err != nil {
		return nil, err
	}
	body, _ := json.Marshal(rec)
	// Stored where the replicas asked for have it before the result goes
	// out: a master's death must not take the register's record of a
	// result the citizen holds.
	stores := redisconn.RunScript(ctx, s.rdb, s.cfg.Durability, storeScript, keys, body, string(d.Outcome), rec.Number, now.UnixMilli(), app.RequestID,
		rec.Number+" "+d.Kind, app.ServiceCode, info.Sender.SenderID, endGround, notice, token, current.Number, d.Kind,
		app.Applicant.Surname+" "+app.Applicant.GivenName, app.Region)
	n, err := stores.Int()
	if err != nil {
		if errors.Is(err, redisconn.ErrNotReplicated) && stores.Val() == int64(1) {
			// Taken and on the master: it goes out from the stored
			// record once the replicas have it, a path that decides
			// nothing, so it is counted now.
			stored = true // released by the script
			s.countDecision(d)
		}
		return nil, err
	}
	switch n {
	case 0:
		stored = true // nothing of ours to release
		return nil, errors.New("the decision lock ran out before the decision was stored; the message comes back for the stored one")
	case -1:
		stored = true // released by the script
		return nil, fmt.Errorf("registration %s ended while this request to end it was decided; the message comes back to be decided again", current.Number)
	case -2:
		stored = true // released by the script
		return nil, errors.New("the citizen's registration changed while this request was decided (another request of his); the message comes back to be decided again")
	}
	stored = true
	s.countDecision(d)
	if d.Outcome == document.OutcomeDeregistered {
		// Told at once; Review sends it if this fails.
		if err := s.sendEnding(ctx, app.Applicant.IIN, current.Number, false); err != nil {
			s.cfg.Log.Warn(s.cfg.Name+": end notice not sent yet; the review sends it", "number", current.Number, "err", err)
		}
	}
	return rec, nil
}

// checkDelivery checks what the transport cannot vouch for: that the
// citizen who signed is the applicant, and that every attachment the
// signed request declares was delivered through the bus's store with the
// declared digest. It fills digests with what it fetched and returns a
// refusal when a check fails; a passing failure of the store is an error.
func (s *System) checkDelivery(ctx context.Context, app *document.Request, signed *signing.Result, info soap.AsyncMessageInfo, digests map[string]string) (Decision, error) {
	refuse := func(g string) (Decision, error) { return Decision{Outcome: "refused", Ground: g}, nil }
	if app.Filing == nil && signed.Signer.IIN != app.Applicant.IIN {
		return refuse("signer-not-applicant") // a filing's signer is its operator (checkFiler)
	}
	delivered := map[string]bool{}
	for _, p := range info.Properties {
		if p.Key == shep.PropAttachment {
			delivered[strings.TrimPrefix(p.Value, "sha256:")] = true
		}
	}
	for _, at := range app.Attachments {
		if !delivered[at.SHA256] {
			return refuse("attachment-not-delivered")
		}
		if _, done := digests[at.SHA256]; done {
			continue
		}
		data, err := s.cfg.Bus.GetAttachment(ctx, s.cfg.Sender, "sha256:"+at.SHA256)
		if errors.Is(err, shep.ErrNotFound) || errors.Is(err, shep.ErrForbidden) {
			return refuse("attachment-not-delivered") // not in the store, or not ours to read
		}
		if err != nil {
			return Decision{}, fmt.Errorf("attachment %s: %w", at.SHA256, err)
		}
		digests[at.SHA256] = sha256Hex(data)
		if digests[at.SHA256] != at.SHA256 {
			return refuse("document-hash-mismatch")
		}
	}
	return Decision{}, nil
}

// Filer is what a desk on the bus may file: its operators sign for BIN,
// its documents name the channel Filed, and it files through the
// catalogue's Channels.
type Filer struct {
	BIN      string
	Filed    document.Channel
	Channels []string
}

// checkFiler refuses a filed request unless a desk of Config.Counters
// sent it, as its own channel, through one of its channels for the
// service in the region under the bus service it came by, signed by its
// operator: an organisation certificate of the desk's BIN with the right
// to sign, of the IIN the filing names.
func (s *System) checkFiler(app *document.Request, signed *signing.Result, info soap.AsyncMessageInfo) error {
	sender := info.Sender.SenderID
	f, ok := s.cfg.Counters[sender]
	if !ok {
		return egov.Errorf(egov.CodeFormInvalid, "request %s claims a filing at a desk, from %s, which files for nobody", app.RequestID, sender)
	}
	if app.Filing.Channel != f.Filed {
		return egov.Errorf(egov.CodeFormInvalid, "request %s from %s names the channel %s, not its own", app.RequestID, sender, app.Filing.Channel)
	}
	channel, flow := s.filedThrough(app, info.ServiceID)
	if !slices.Contains(f.Channels, channel) {
		return egov.Errorf(egov.CodeFormInvalid, "%s files no %s in %s under %s", sender, app.ServiceCode, app.Region, info.ServiceID)
	}
	if (flow == "C" || flow == "P") && app.Filing.Representative != nil {
		return egov.Errorf(egov.CodeFormInvalid, "request %s: in flow %s the applicant applies in person", app.RequestID, flow)
	}
	if err := signed.RequireAuthority(f.BIN, nil); err != nil {
		return err
	}
	return signed.RequireIIN(app.Filing.OperatorIIN)
}

// filedThrough is FiledThrough, "" without it.
func (s *System) filedThrough(app *document.Request, busService string) (channel, flow string) {
	if s.cfg.FiledThrough == nil {
		return "", ""
	}
	return s.cfg.FiledThrough(app.ServiceCode, app.Region, busService)
}

// asksPowers tells whether the desk's flow of a filed request asks ЕНИС
// for the representative's power (G-A).
func (s *System) asksPowers(app *document.Request, busService string) bool {
	_, flow := s.filedThrough(app, busService)
	return flow == "G-A"
}

// checkPower asks ЕНИС whether the representative of a filed request holds
// a power of attorney of the applicant for the service on the day: the
// counter asked too, but the system acts only on what it verified.
func (s *System) checkPower(ctx context.Context, app *document.Request, now time.Time) (bool, error) {
	rep := app.Filing.Representative
	q := enis.Request{Number: rep.PowerOfAttorney.Number, Principal: app.Applicant.IIN, Attorney: rep.IIN,
		Date: now.In(egov.Almaty).Format(time.DateOnly)}
	data, _ := xml.Marshal(q)
	answer, err := s.askRegister(ctx, enis.ServiceID, data)
	if err != nil {
		return false, fmt.Errorf("ЕНИС: %w", err)
	}
	power, err := enis.ReadResponse(answer, q)
	if err != nil {
		return false, err
	}
	return power.Status == enis.StatusValid && power.Covers(app.ServiceCode), nil
}

// lookupPerson asks the persons register (ГБД ФЛ) over the bus's sync channel.
func (s *System) lookupPerson(ctx context.Context, iin string) (Person, error) {
	q, _ := xml.Marshal(gbdfl.Request{IIN: iin})
	data, err := s.askRegister(ctx, gbdfl.ServiceID, q)
	if err != nil {
		return Person{}, fmt.Errorf("persons register: %w", err)
	}
	p, err := gbdfl.ReadResponse(data, iin)
	if err != nil {
		return Person{}, err
	}
	if p == nil {
		return Person{Found: false}, nil
	}
	return Person{Found: true, IdentityDocExpires: p.IdentityDocument.Expires, Surname: p.Surname, Name: p.Name}, nil
}

// lookupAssistance asks the register of recipients of targeted social
// assistance about the applicant's family on the day of the decision.
func (s *System) lookupAssistance(ctx context.Context, iin string, now time.Time) (Assistance, error) {
	day := now.In(egov.Almaty).Format(time.DateOnly)
	q, _ := xml.Marshal(tsa.Request{IIN: iin, Date: day})
	data, err := s.askRegister(ctx, tsa.ServiceID, q)
	if err != nil {
		return Assistance{}, fmt.Errorf("assistance register: %w", err)
	}
	ans, err := tsa.ReadResponse(data, iin, day)
	if err != nil {
		return Assistance{}, err
	}
	return Assistance{Belongs: ans.Belongs, Family: ans.Case, Until: ans.Until}, nil
}

// lookupContracts asks the register of employment contracts whether the
// applicant works under a contract on the day of the decision.
func (s *System) lookupContracts(ctx context.Context, iin string, now time.Time) (bool, error) {
	day := now.In(egov.Almaty).Format(time.DateOnly)
	q, _ := xml.Marshal(contracts.Request{IIN: iin, Date: day})
	data, err := s.askRegister(ctx, contracts.ServiceID, q)
	if err != nil {
		return false, fmt.Errorf("contracts register: %w", err)
	}
	return contracts.ReadResponse(data, iin, day)
}

// askRegister sends one synchronous request to a register over the bus
// and returns its answer document.
func (s *System) askRegister(ctx context.Context, service string, query []byte) (string, error) {
	return shep.AskSync(ctx, s.cfg.Bus, s.cfg.Sender, service, query, s.cfg.Now())
}

// resultDocument writes and signs the result: a notice of registration, a
// referral, a certificate, the end of a registration, or a reasoned
// refusal, the grounds in Russian, Kazakh and English.
func (s *System) resultDocument(app *document.Request, rec *record) (string, error) {
	result := &document.Result{RequestID: app.RequestID, ServiceCode: app.ServiceCode, Outcome: rec.Decision.Outcome,
		ProviderBIN: signing.IdentityOf(s.cfg.Signer.Certificate).BIN, Applicant: app.Applicant.IIN,
		Number: rec.Number, Date: rec.Date, Kind: rec.Decision.Kind}
	if g := rec.Decision.Ground; g != "" {
		ground := &document.Ground{Code: g, Text: s.cfg.Rules.Grounds[g]}
		if rec.Decision.Outcome == document.OutcomeDeregistered {
			result.EndGround = ground
		} else {
			result.Ground = ground
		}
	}
	return s.sign(result)
}

// sign signs a result document with the provider's authorised person,
// no more at once than Signers.
func (s *System) sign(result *document.Result) (string, error) {
	s.signing <- struct{}{}
	signed, err := s.cfg.Signer.Sign(result.Document())
	<-s.signing
	if err != nil {
		return "", err
	}
	return string(signed), nil
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
