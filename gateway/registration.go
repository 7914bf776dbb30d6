package gateway

import (
	"context"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"egov"
	"egov/internal/password"
	"egov/internal/redisscript"
	"egov/registers/mobile"
	"egov/shep"
	"egov/signing"
	"egov/sms"
)

// How an account's holder proved the IIN when it was opened.
const (
	ProofSignature = "signature" // a signed registration challenge, certificate of that IIN
	ProofSMSCode   = "sms-code"  // a one-time code sent to the phone the mobile register holds
)

// One-time code policy.
const (
	codeDigits   = 6
	codeTTL      = 5 * time.Minute
	codeMaxTries = 5 // tries of one code, right or wrong; the fifth ends it
	// codesPerIIN bounds the codes sent for one IIN in codeWindow, so that
	// a stranger can neither flood the owner's phone nor multiply his
	// guesses: at most codesPerIIN*codeMaxTries guesses an hour among a
	// million codes.
	codesPerIIN = 5
	codeWindow  = time.Hour
	// busCallTimeout bounds one question to the register or the SMS gateway.
	busCallTimeout = 5 * time.Second
)

// Registration is an application for an account. Exactly one proof of
// identity must be given: SignedChallenge (an AuthChallenge document from
// Challenge, signed with a key whose certificate names IIN) or Code (the
// one-time code RequestCode sent to the phone the mobile citizens'
// register holds for IIN).
type Registration struct {
	IIN, BIN, Password string
	// Phone is optional. With a code the account takes the register's
	// phone, and a different one is refused.
	Phone           string
	SignedChallenge []byte
	Code            string
}

// CodeSent says where a one-time code went: the phone only masked.
type CodeSent struct {
	SentTo    string
	ExpiresIn time.Duration
}

func (a *App) codeKey(iin string) string { return a.key("{"+iin+"}", "otp") }
func (a *App) codeCountKey(iin string, at time.Time) string {
	return a.key("{"+iin+"}", "otp-sent", strconv.FormatInt(at.Unix()/int64(codeWindow/time.Second), 10))
}

// RequestCode sends a one-time registration code to the phone the mobile
// citizens' register holds for iin. The code itself is kept only as an
// argon2id hash and never leaves the portal except in the SMS.
func (a *App) RequestCode(ctx context.Context, iin string) (*CodeSent, error) {
	if _, err := signing.ParseIIN(iin); err != nil {
		return nil, err
	}
	// Counted before the register is asked, so that the register cannot be
	// probed faster than codes can be sent.
	countKey := a.codeCountKey(iin, a.now())
	pipe := a.rdb.TxPipeline()
	n := pipe.Incr(ctx, countKey)
	pipe.Expire(ctx, countKey, 2*codeWindow)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	if n.Val() > codesPerIIN {
		e := egov.Errorf(egov.CodeRateLimited, "more than %d codes an hour for %s", codesPerIIN, signing.MaskIIN(iin))
		e.RetryAfter = codeWindowLeft(a.now())
		return nil, e
	}
	phone, err := a.phoneOf(ctx, iin)
	if err != nil {
		return nil, err
	}
	if phone == "" {
		return nil, egov.Errorf(egov.CodePhoneNotRegistered, "no phone in the mobile register for %s", signing.MaskIIN(iin))
	}
	code, err := newCode()
	if err != nil {
		return nil, err
	}
	hash, err := password.Hash(code)
	if err != nil {
		return nil, err
	}
	// Stored before it is sent: a code that reached the phone always
	// works, one stored but never sent harms nobody. A new code replaces
	// the previous one with a fresh count of tries.
	key := a.codeKey(iin)
	pipe = a.rdb.TxPipeline()
	pipe.Del(ctx, key)
	pipe.HSet(ctx, key, "id", uuid.NewString(), "hash", hash, "phone", string(phone),
		"expiresAt", a.now().Add(codeTTL).UnixMilli(), "tries", 0)
	pipe.Expire(ctx, key, codeTTL+time.Minute)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	text := fmt.Sprintf("egov: код регистрации %s. Никому не сообщайте, действует %d мин. / Тіркеу коды %s. Ешкімге айтпаңыз, код %d мин. жарамды.",
		code, int(codeTTL/time.Minute), code, int(codeTTL/time.Minute))
	if err := a.sendSMS(ctx, phone, text); err != nil {
		return nil, err
	}
	a.log.Info("one-time code sent", "iin", signing.MaskIIN(iin), "phone", phone.Masked())
	return &CodeSent{SentTo: phone.Masked(), ExpiresIn: codeTTL}, nil
}

// codeWindowLeft is the time from at to the end of its code window, when
// the count of codes sent starts afresh.
func codeWindowLeft(at time.Time) time.Duration {
	w := int64(codeWindow / time.Millisecond)
	return time.Duration(w-at.UnixMilli()%w) * time.Millisecond
}

// newCode draws codeDigits decimal digits from crypto/rand, uniformly.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%0*d", codeDigits, n.Int64()), nil
}

// syncCall asks a synchronous service on the bus as the portal.
func (a *App) syncCall(ctx context.Context, service string, doc any) (string, error) {
	if a.cfg.Bus == nil {
		return "", egov.Errorf(egov.CodeUnavailable, "no bus configured for %s", service)
	}
	data, err := xml.Marshal(doc)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, busCallTimeout)
	defer cancel()
	answer, err := shep.AskSync(ctx, a.cfg.Bus, a.cfg.Sender, service, data, a.now())
	if err != nil {
		return "", egov.Errorf(egov.CodeUnavailable, "%s over the bus: %w", service, err)
	}
	return answer, nil
}

// phoneOf asks the mobile citizens' register for the phone of iin; "" when
// it holds none.
func (a *App) phoneOf(ctx context.Context, iin string) (sms.Phone, error) {
	data, err := a.syncCall(ctx, mobile.ServiceID, mobile.Request{IIN: iin})
	if err != nil {
		return "", err
	}
	phone, err := mobile.ReadResponse(data, iin)
	if err != nil {
		return "", egov.Errorf(egov.CodeUnavailable, "%w", err)
	}
	return phone, nil
}

// sendSMS hands text to the SMS gateway and requires its delivery report.
func (a *App) sendSMS(ctx context.Context, phone sms.Phone, text string) error {
	data, err := a.syncCall(ctx, sms.ServiceID, sms.Request{Phone: string(phone), Text: text})
	if err != nil {
		return err
	}
	if _, err := sms.ReadReport(data, phone); err != nil {
		return egov.Errorf(egov.CodeUnavailable, "%w", err)
	}
	return nil
}

// Register opens an account for an IIN whose holder proved it: a valid IIN,
// an optional valid BIN, a password of the policy, and exactly one proof.
// Every failed proof reads identity-not-proven, except a code that is
// wrong, expired, used or tried too often (one-time-code-invalid) and a
// signature the verifier refuses (its own code). A signed challenge of
// another IIN is identity-not-proven too: the caller proved someone, just
// not the holder of this IIN.
func (a *App) Register(ctx context.Context, r Registration) error {
	if _, err := signing.ParseIIN(r.IIN); err != nil {
		return err
	}
	if r.BIN != "" {
		if _, err := signing.ParseBIN(r.BIN); err != nil {
			return err
		}
	}
	if err := checkPasswordPolicy(r.Password, r.IIN); err != nil {
		return err
	}
	if r.Phone != "" {
		if _, err := sms.ParsePhone(r.Phone); err != nil {
			return err
		}
	}
	var proof, phone string
	switch {
	case len(r.SignedChallenge) > 0 && r.Code != "":
		return egov.Errorf(egov.CodeIdentityNotProven, "two proofs given; give one")
	case len(r.SignedChallenge) > 0:
		if err := a.proveBySignature(ctx, r.IIN, r.SignedChallenge); err != nil {
			return err
		}
		proof, phone = ProofSignature, r.Phone
	case r.Code != "":
		p, err := a.proveByCode(ctx, r.IIN, r.Code)
		if err != nil {
			return err
		}
		if r.Phone != "" && r.Phone != string(p) {
			return egov.Errorf(egov.CodePhoneInvalid, "the phone differs from the one the code was sent to")
		}
		proof, phone = ProofSMSCode, string(p)
	default:
		return egov.Errorf(egov.CodeIdentityNotProven, "registration of %s without proof of identity", signing.MaskIIN(r.IIN))
	}
	hash, err := password.Hash(r.Password)
	if err != nil {
		return err
	}
	ok, err := a.rdb.HSetNX(ctx, a.accountKey(r.IIN), "passwordHash", hash).Result()
	if err != nil {
		return err
	}
	if !ok {
		return egov.Errorf(egov.CodeAccountExists, "iin %s", signing.MaskIIN(r.IIN))
	}
	if err := a.rdb.HSet(ctx, a.accountKey(r.IIN), "id", uuid.NewString(), "iin", r.IIN, "bin", r.BIN, "phone", phone,
		"phoneVerified", strconv.FormatBool(proof == ProofSMSCode), "proof", proof, "createdAt", a.now().UnixMilli()).Err(); err != nil {
		return err
	}
	// The holder proved the IIN: failures strangers piled up on it before
	// the account existed must not delay his first login.
	if err := a.clearLoginFailures(ctx, r.IIN); err != nil {
		return err
	}
	a.log.Info("account opened", "iin", signing.MaskIIN(r.IIN), "proof", proof)
	return nil
}

// proveBySignature accepts an unused registration challenge signed with a
// certificate of iin. The challenge is spent whatever the outcome after
// the signature check, so one signed challenge is one try.
func (a *App) proveBySignature(ctx context.Context, iin string, doc []byte) error {
	if a.authVerifier == nil {
		return egov.Errorf(egov.CodeIdentityNotProven, "no signature verifier configured")
	}
	res, err := a.authVerifier.Verify(ctx, doc)
	if err != nil {
		return err
	}
	nonce, err := challengeNonce(res.Element)
	if err != nil {
		return err
	}
	if err := a.spendChallenge(ctx, nonce); err != nil {
		return egov.Errorf(egov.CodeIdentityNotProven, "registration challenge: %w", err)
	}
	if res.Signer.IIN != iin {
		a.log.Info("registration signed by another IIN", "iin", signing.MaskIIN(iin), "signer", signing.MaskIIN(res.Signer.IIN))
		return egov.Errorf(egov.CodeIdentityNotProven, "challenge signed by %s for %s", signing.MaskIIN(res.Signer.IIN), signing.MaskIIN(iin))
	}
	return nil
}

// consumeCode counts a try of iin's code and returns it with the stored
// hash and phone; a try past the last allowed one is counted and refused
// by its caller. ARGV[1] names the try: counted again (the client sends a
// script again when its answer is late), it counts once. Missing code: nil.
var consumeCode = redisscript.New(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local v = redis.call('HMGET', KEYS[1], 'id', 'hash', 'phone', 'expiresAt', 'tries', 'lastTry')
local tries = tonumber(v[5]) or 0
if v[6] ~= ARGV[1] then
  tries = redis.call('HINCRBY', KEYS[1], 'tries', 1)
  redis.call('HSET', KEYS[1], 'lastTry', ARGV[1])
end
return {tries, v[1] or '', v[2] or '', v[3] or '', v[4] or ''}
`)

// spendCode deletes iin's code if it is still the one with this id: of two
// right answers at once, one wins. The winner's try is remembered for a
// minute (KEYS[2]), so that the same try spending again (a late answer
// sent again) is told it won rather than that another did.
// ARGV: code id, try.
var spendCode = redisscript.New(`
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], ARGV[2], 'PX', 60000)
  return 1
end
if redis.call('GET', KEYS[2]) == ARGV[2] then return 1 end
return 0
`)

// proveByCode accepts the code last sent for iin, once, within its life and
// its tries, and returns the phone it was sent to.
func (a *App) proveByCode(ctx context.Context, iin, code string) (sms.Phone, error) {
	invalid := func(why string) error {
		a.log.Info("one-time code refused", "iin", signing.MaskIIN(iin), "why", why)
		return egov.Errorf(egov.CodeOneTimeCodeInvalid, "one-time code of %s: %s", signing.MaskIIN(iin), why)
	}
	try := uuid.NewString()
	if len(code) != codeDigits {
		// Still a try: a malformed guess must not be free.
		if _, err := consumeCode.Run(ctx, a.rdb, []string{a.codeKey(iin)}, try).Result(); err != nil && !errors.Is(err, redis.Nil) {
			return "", err
		}
		return "", invalid("not six digits")
	}
	v, err := consumeCode.Run(ctx, a.rdb, []string{a.codeKey(iin)}, try).Slice()
	if errors.Is(err, redis.Nil) {
		return "", invalid("no code sent, or used, expired or tried too often")
	}
	if err != nil {
		return "", err
	}
	tries, _ := v[0].(int64)
	id, _ := v[1].(string)
	hash, _ := v[2].(string)
	phone, _ := v[3].(string)
	expires, _ := strconv.ParseInt(fmt.Sprint(v[4]), 10, 64)
	if tries > codeMaxTries {
		return "", invalid("tried too often")
	}
	if !a.now().Before(time.UnixMilli(expires)) {
		_ = a.rdb.Del(ctx, a.codeKey(iin)).Err()
		return "", invalid("expired")
	}
	if !password.Check(hash, code) {
		return "", invalid(fmt.Sprintf("wrong (try %d of %d)", tries, codeMaxTries))
	}
	n, err := spendCode.Run(ctx, a.rdb, []string{a.codeKey(iin), a.codeKey(iin) + ":spent"}, id, try).Int()
	if err != nil {
		return "", err
	}
	if n != 1 {
		return "", invalid("used by a concurrent registration")
	}
	return sms.Phone(phone), nil
}
