package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"egov"
	"egov/document"
	"egov/internal/redisscript"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

// This file owns the system's register of job seekers: a registration is
// made by a decision (registered), and ends, at the citizen's request (a
// request of a service whose rules end registrations) or by the system's
// own decision when the condition the registration required no longer
// holds (Review). A registration only moves forward: current, then ended
// and kept under its number; the citizen may register again afterwards.
//
// Whoever filed the registration is told that it ended: a notice signed
// by the provider's authorised person (a ServiceResult of outcome
// deregistered naming the registration's request) goes to the filing
// system's document.EndNoticeService on the bus. The notice is kept with
// the ended registration and sent until the bus takes it (or refuses it
// for good: then it is kept, logged, and no longer sent).

// registration is the current registration of a job seeker.
type registration struct {
	Number    string // JS-YYYY-NNNNNN
	RequestID string // the request that made it
	Service   string // that request's service
	Sender    string // the system that filed that request ("" for registrations made before senders were kept)
	// Unemployed is the number of the registration as unemployed made on
	// it (S2, UNE-YYYY-NNNNNN), "" while there is none; it ends with it.
	Unemployed string
	// UnemployedAs is the applicant's surname and name as the request that
	// registered him as unemployed gave them (S3 checks them).
	UnemployedAs string
	// Region is the region of the request that made the registration (""
	// for registrations made before regions were kept).
	Region string
}

// registrationFields are the hash fields of a current registration that
// registrationFrom reads, in order.
var registrationFields = []string{"number", "requestId", "service", "sender", "unemployed", "unemployedAs", "region"}

func registrationFrom(v []any) registration {
	s := func(i int) string { x, _ := v[i].(string); return x }
	r := registration{Number: s(0), RequestID: s(1), Service: s(2), Sender: s(3), Unemployed: s(4), UnemployedAs: s(5), Region: s(6)}
	if r.Service == "" {
		r.Service = "job-seeker-registration" // made before services were kept
	}
	return r
}

// currentRegistration and endedRegistration are the keys of one job
// seeker's registrations; they share the applicant's hash tag with the
// system's request records.
func (s *System) currentRegistration(iin string) string { return s.key("{"+iin+"}", "job-seeker") }

func (s *System) endedRegistration(iin, number string) string {
	return s.key("{"+iin+"}", "job-seeker", "ended", number)
}

// reviewKey orders the registrations whose condition can lapse by when
// they are to be looked at next; endingsKey the ended registrations whose
// notice the bus has not taken yet, by when to try again. Members of both
// are "IIN number": a member names one registration, so a registration
// made after it ends is never taken off the list by the old one's end.
func (s *System) reviewKey() string  { return s.key("job-seekers", "review") }
func (s *System) endingsKey() string { return s.key("job-seekers", "endings") }

// endRegistrationLua ends a current registration if it is still the one
// decided on: the decision's fields are written to it and it moves, whole,
// to its ended key. Shared by the decision script and endScript, so that
// both end a registration the same way.
const endRegistrationLua = `
local function endRegistration(current, ended, number, at, ground, notice)
  if redis.call('HGET', current, 'number') ~= number then return 0 end
  redis.call('HSET', current, 'endedAt', at, 'endGround', ground, 'notice', notice)
  redis.call('RENAME', current, ended)
  return 1
end
`

// endScript ends a registration by the system's own decision.
// KEYS: current, ended. ARGV: number, ended at (ms), ground, notice.
var endScript = redisscript.New(endRegistrationLua + `
return endRegistration(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
`)

// endUnemployedScript ends the registration as unemployed a job seeker's
// registration carries, if both are still the ones reviewed; the job
// seeker's registration goes on. KEYS: current. ARGV: its number, the
// registration as unemployed, ended at (ms), ground. Returns 1 when ended.
var endUnemployedScript = redisscript.New(`
local v = redis.call('HMGET', KEYS[1], 'number', 'unemployed')
if v[1] ~= ARGV[1] or not v[2] or v[2] ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], 'unemployed', 'unemployedAt', 'unemployedRequestId', 'unemployedAs')
redis.call('HSET', KEYS[1], 'unemployedEnded', ARGV[2], 'unemployedEndedAt', ARGV[3], 'unemployedEndGround', ARGV[4])
return 1
`)

// mayLapse reports whether the registration made by a request of service
// in region rests on a condition the system must keep checking: where the
// regulation bars people in work from registering (NoLabourActivityIn),
// taking up work ends the registration.
func (s *System) mayLapse(service, region string) bool {
	return slices.Contains(s.cfg.Rules.Services[service].NoLabourActivityIn, region)
}

// endNotice writes and signs the notice that reg ended on ground.
func (s *System) endNotice(iin string, reg registration, ground string, now time.Time) (string, error) {
	// Kind "unemployed": the registration as unemployed it carried ends
	// with it.
	kind := ""
	if reg.Unemployed != "" {
		kind = KindUnemployed
	}
	notice := &document.Result{RequestID: reg.RequestID, ServiceCode: reg.Service, Outcome: document.OutcomeDeregistered, Kind: kind,
		ProviderBIN: signing.IdentityOf(s.cfg.Signer.Certificate).BIN, Applicant: iin, Number: reg.Number,
		Date: now.In(egov.Almaty).Format(time.DateOnly), EndGround: &document.Ground{Code: ground, Text: s.cfg.Rules.Grounds[ground]}}
	return s.sign(notice)
}

// scheduleReview puts a registration on the review list, to be looked at
// after ReviewEvery (onlyIfListed: only if it is still on it).
func (s *System) scheduleReview(ctx context.Context, iin, number string, now time.Time, onlyIfListed bool) error {
	z := redis.Z{Score: float64(now.Add(s.cfg.ReviewEvery).UnixMilli()), Member: iin + " " + number}
	if onlyIfListed {
		return s.rdb.ZAddXX(ctx, s.reviewKey(), z).Err()
	}
	return s.rdb.ZAdd(ctx, s.reviewKey(), z).Err()
}

// noteEnding puts an ending on the list of notices to send, before the
// registration is ended: a crash in between leaves a member without a
// notice, which Review drops once it is far older than any decision or
// review could take to end the registration (staleAfter).
func (s *System) noteEnding(ctx context.Context, iin, number string, now time.Time) error {
	return s.rdb.ZAdd(ctx, s.endingsKey(), redis.Z{Score: float64(now.UnixMilli()), Member: iin + " " + number}).Err()
}

// reviewBatches bounds one Review: 100 registrations a batch.
const reviewBatches = 50

// Review ends the registrations due for a look whose condition no longer
// holds (the job seeker took up work, by the register of employment
// contracts), schedules the others' next look, and sends the end notices
// the bus has not taken yet. It returns how many registrations it ended.
// Run calls it every minute (or ReviewEvery, if shorter); several systems
// may review at once, and the end of a registration happens once.
func (s *System) Review(ctx context.Context) (int, error) {
	now := s.cfg.Now()
	ended := 0
	var errs []error
	for range reviewBatches {
		due, err := s.rdb.ZRangeByScore(ctx, s.reviewKey(), &redis.ZRangeBy{Min: "-inf",
			Max: strconv.FormatInt(now.UnixMilli(), 10), Count: 100}).Result()
		if err != nil {
			return ended, err
		}
		for _, member := range due {
			iin, number, _ := strings.Cut(member, " ")
			done, err := s.review(ctx, iin, number, now)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", signing.MaskIIN(iin), err))
				// Looked at again after ReviewEvery, not in this Review's next batch.
				_ = s.scheduleReview(ctx, iin, number, now, true)
			}
			if done {
				ended++
			}
		}
		if len(due) < 100 {
			break
		}
	}
	errs = append(errs, s.sendEndings(ctx, now))
	return ended, errors.Join(errs...)
}

// review looks at one registration: ended when its holder is in work,
// looked at again after ReviewEvery otherwise.
func (s *System) review(ctx context.Context, iin, number string, now time.Time) (bool, error) {
	member := iin + " " + number
	v, err := s.rdb.HMGet(ctx, s.currentRegistration(iin), registrationFields...).Result()
	if err != nil {
		return false, err
	}
	reg := registrationFrom(v)
	if reg.Number != number {
		return false, s.rdb.ZRem(ctx, s.reviewKey(), member).Err() // ended meanwhile
	}
	askCtx, cancel := context.WithTimeout(ctx, decisionLockTTL/2)
	defer cancel()
	employed, err := s.lookupContracts(askCtx, iin, now)
	if err != nil {
		return false, err
	}
	if !employed {
		return false, s.scheduleReview(ctx, iin, number, now, true)
	}
	const ground = "labour-activity-started"
	if reg.Region != "" && !s.mayLapse(reg.Service, reg.Region) {
		// Watched only for the registration as unemployed it carries (the
		// region lets people in work seek work): that alone ends.
		n, err := endUnemployedScript.Run(ctx, s.rdb, []string{s.currentRegistration(iin)}, reg.Number, reg.Unemployed, now.UnixMilli(), ground).Int()
		if err != nil {
			return false, err
		}
		_ = s.rdb.ZRem(ctx, s.reviewKey(), member).Err()
		if n == 1 {
			s.metrics.endings.WithLabelValues("unemployed-" + ground).Inc()
			s.cfg.Log.Info(s.cfg.Name+": registration as unemployed ended", "number", reg.Unemployed, "ground", ground, "iin", signing.MaskIIN(iin))
		}
		return n == 1, nil
	}
	notice, err := s.endNotice(iin, reg, ground, now)
	if err != nil {
		return false, err
	}
	if err := s.noteEnding(ctx, iin, reg.Number, now); err != nil {
		return false, err
	}
	n, err := endScript.Run(ctx, s.rdb, []string{s.currentRegistration(iin), s.endedRegistration(iin, reg.Number)},
		reg.Number, now.UnixMilli(), ground, notice).Int()
	if err != nil {
		return false, err
	}
	_ = s.rdb.ZRem(ctx, s.reviewKey(), member).Err() // a failure costs a look at a registration that is gone
	if n == 1 {
		s.metrics.endings.WithLabelValues(ground).Inc()
		s.cfg.Log.Info(s.cfg.Name+": registration ended", "number", reg.Number, "ground", ground, "iin", signing.MaskIIN(iin))
	}
	return n == 1, nil
}

// staleAfter is how old a member of the endings list without a notice
// must be before it is dropped: far beyond any decision's lock or any
// stalled review, on any instance's clock.
func (s *System) staleAfter() time.Duration { return max(time.Hour, 2*s.cfg.ReviewEvery) }

// sendEndings sends the end notices due, oldest first; one the bus
// refuses for now waits a minute.
func (s *System) sendEndings(ctx context.Context, now time.Time) error {
	due, err := s.rdb.ZRangeByScoreWithScores(ctx, s.endingsKey(), &redis.ZRangeBy{Min: "-inf",
		Max: strconv.FormatInt(now.UnixMilli(), 10), Count: 100}).Result()
	if err != nil {
		return err
	}
	var errs []error
	for _, z := range due {
		member, _ := z.Member.(string)
		iin, number, _ := strings.Cut(member, " ")
		noted := time.UnixMilli(int64(z.Score))
		if err := s.sendEnding(ctx, iin, number, now.Sub(noted) > s.staleAfter()); err != nil {
			errs = append(errs, err)
			_ = s.rdb.ZAdd(ctx, s.endingsKey(), redis.Z{Score: float64(now.Add(time.Minute).UnixMilli()), Member: member}).Err()
		}
	}
	return errors.Join(errs...)
}

// sendEnding sends the notice of one ended registration to the system
// that filed it, once the bus takes it marks it sent. A member whose
// registration has not ended is dropped when stale (its decision failed
// or ended another way), kept otherwise (the decision may be in flight).
func (s *System) sendEnding(ctx context.Context, iin, number string, stale bool) error {
	member := iin + " " + number
	v, err := s.rdb.HMGet(ctx, s.endedRegistration(iin, number), "notice", "sender", "noticeSent").Result()
	if err != nil {
		return err
	}
	notice, _ := v[0].(string)
	sender, _ := v[1].(string)
	sent, _ := v[2].(string)
	switch {
	case notice == "" && !stale:
		return nil
	case notice == "" || sent != "":
		return s.rdb.ZRem(ctx, s.endingsKey(), member).Err()
	case sender == "":
		s.cfg.Log.Warn(s.cfg.Name+": an ended registration names no filing system; its notice is kept, not sent", "number", number)
		return s.rdb.ZRem(ctx, s.endingsKey(), member).Err()
	}
	if portal := s.cfg.Cabinets[sender]; portal != "" {
		sender = portal // a desk's request is followed in the portal's cabinet
	}
	_, err = s.cfg.Bus.SendMessage(ctx, shep.NewSendMessage(s.cfg.Sender, document.EndNoticeService(sender), soap.TypeRequest, "", notice,
		soap.Property{Key: shep.PropIdempotencyKey, Value: "ended-" + number}))
	var fault *soap.Fault
	if errors.As(err, &fault) && fault.Info.ErrorCode != soap.CodeInternal {
		// Refused for good (the filing system takes no such notices, the
		// bus refuses our signature): kept with the registration, not sent.
		s.cfg.Log.Warn(s.cfg.Name+": the bus refused an end notice; it is kept, not sent again", "number", number,
			"code", fault.Info.ErrorCode, "err", err)
		return s.rdb.ZRem(ctx, s.endingsKey(), member).Err()
	}
	if err != nil {
		return fmt.Errorf("end notice %s: %w", number, err)
	}
	if err := s.rdb.HSet(ctx, s.endedRegistration(iin, number), "noticeSent", s.cfg.Now().UnixMilli()).Err(); err != nil {
		return err
	}
	return s.rdb.ZRem(ctx, s.endingsKey(), member).Err()
}
