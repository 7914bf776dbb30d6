package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"egov"

	"egov/internal/redisscript"
)

// ThrottleConfig tunes how the portal slows down guessing and floods on
// its unauthenticated endpoints (POST /accounts, /accounts/codes,
// /sessions, /sessions/signature, GET /auth/challenge). Zero values take
// the defaults named on each field.
type ThrottleConfig struct {
	// PrefixAttemptsPerMinute is how many attempts all the addresses of
	// one network prefix may make a minute together, on top of each
	// address's Config.AttemptsPerMinute (default 5 × AttemptsPerMinute,
	// so 100): a host holding many addresses of one network (a /24 of
	// loopback or a cloud range, an IPv6 /64) cannot multiply its budget,
	// while an office behind a few NAT addresses still fits.
	PrefixAttemptsPerMinute int64
	// IPv4PrefixBits and IPv6PrefixBits say which addresses count as one
	// network (default 24 and 64: the smallest block one holder commonly
	// gets).
	IPv4PrefixBits, IPv6PrefixBits int
	// LoginDelay is how long the next password login of an IIN waits after
	// one failure (default 1 s); it doubles with each further failure up to
	// LoginDelayMax (default 5 minutes). The delay slows a guesser down
	// without ever locking the holder out for long, and a login by
	// signature ends it at once.
	LoginDelay, LoginDelayMax time.Duration
	// LoginFailureMemory is how long an IIN's failures are remembered
	// after its last attempt (default 1 hour, at least LoginDelayMax): the
	// counter then expires, so guesses at IINs without an account leave
	// nothing behind for long.
	LoginFailureMemory time.Duration
	// ChallengeKey is the HMAC-SHA256 key that signs login and
	// registration challenges (at least 32 bytes). Empty: a random key is
	// created once in Redis (gw:challenge-key, SET NX) and shared by every
	// portal on that Redis, so that a challenge issued by one instance is
	// accepted by another and survives a restart.
	ChallengeKey []byte
}

// Throttling defaults.
const (
	prefixFactor          = 5
	defaultIPv4PrefixBits = 24
	defaultIPv6PrefixBits = 64
	defaultLoginDelay     = time.Second
	defaultLoginDelayMax  = 5 * time.Minute
	defaultFailureMemory  = time.Hour
	minChallengeKey       = 32
)

func (t *ThrottleConfig) setDefaults(attemptsPerMinute int64) {
	if t.PrefixAttemptsPerMinute <= 0 {
		t.PrefixAttemptsPerMinute = prefixFactor * attemptsPerMinute
	}
	if t.IPv4PrefixBits <= 0 || t.IPv4PrefixBits > 32 {
		t.IPv4PrefixBits = defaultIPv4PrefixBits
	}
	if t.IPv6PrefixBits <= 0 || t.IPv6PrefixBits > 128 {
		t.IPv6PrefixBits = defaultIPv6PrefixBits
	}
	if t.LoginDelay <= 0 {
		t.LoginDelay = defaultLoginDelay
	}
	if t.LoginDelayMax <= 0 {
		t.LoginDelayMax = defaultLoginDelayMax
	}
	t.LoginDelayMax = max(t.LoginDelayMax, t.LoginDelay)
	if t.LoginFailureMemory <= 0 {
		t.LoginFailureMemory = defaultFailureMemory
	}
	t.LoginFailureMemory = max(t.LoginFailureMemory, t.LoginDelayMax)
}

// throttle holds the limiter and the challenge key of one App.
type throttle struct {
	limiter *redis_rate.Limiter
	mu      sync.Mutex
	key     []byte // the challenge key once known
}

func newThrottle(rdb redis.UniversalClient, cfg *Config) (*throttle, error) {
	cfg.Throttle.setDefaults(cfg.AttemptsPerMinute)
	if n := len(cfg.Throttle.ChallengeKey); n > 0 && n < minChallengeKey {
		return nil, fmt.Errorf("gateway: a challenge key of %d bytes; give at least %d", n, minChallengeKey)
	}
	return &throttle{limiter: redis_rate.NewLimiter(rdb), key: cfg.Throttle.ChallengeKey}, nil
}

// clientKeys names the address and the network prefix a client counts
// against. An IPv4 address mapped into IPv6 counts as IPv4; a value that
// is no address at all (a misconfigured extractor) counts as one network
// of its own, so that it can never make fresh budgets.
func clientKeys(clientIP string, v4bits, v6bits int) (addr, prefix string) {
	ip, err := netip.ParseAddr(clientIP)
	if err != nil {
		s := clientIP
		if len(s) > 64 {
			s = s[:64]
		}
		return "unparsed-" + strings.Map(func(r rune) rune {
			if r <= ' ' || r > '~' {
				return '_'
			}
			return r
		}, s), "unparsed"
	}
	ip = ip.Unmap().WithZone("")
	bits := v6bits
	if ip.Is4() {
		bits = v4bits
	}
	p, _ := ip.Prefix(bits) // bits are in range (setDefaults)
	return ip.String(), p.String()
}

// allowAttempt counts an attempt from a client address against its own
// limit and its network prefix's, and refuses beyond either with
// rate-limited and the time until the next attempt may succeed. The
// limits are GCRA (redis_rate): a full minute's budget at once, then one
// attempt every 60/N seconds; one Redis key per limit, so it is
// Cluster-safe. The limiter reads Redis's clock, not Config.Now.
func (a *App) allowAttempt(ctx context.Context, clientIP string) error {
	t := a.cfg.Throttle
	addr, prefix := clientKeys(clientIP, t.IPv4PrefixBits, t.IPv6PrefixBits)
	limits := []struct {
		key, what string
		perMin    int64
	}{
		{a.key("throttle", "address", addr), "client address", a.cfg.AttemptsPerMinute},
		{a.key("throttle", "network", prefix), "network " + prefix, t.PrefixAttemptsPerMinute},
	}
	for _, l := range limits {
		n := int(min(l.perMin, 1<<30))
		res, err := a.throttle.limiter.Allow(ctx, l.key, redis_rate.Limit{Rate: n, Burst: n, Period: time.Minute})
		if err != nil {
			return err
		}
		if res.Allowed == 0 {
			e := egov.Errorf(egov.CodeRateLimited, "%s over %d attempts a minute", l.what, l.perMin)
			e.RetryAfter = max(res.RetryAfter, time.Second)
			return e
		}
	}
	return nil
}

func (a *App) loginThrottleKey(iin string) string { return a.key("{"+iin+"}", "login-throttle") }

// chargeLogin is the gate before a password check of one IIN. Inside the
// delay it refuses and changes nothing (returns 0 and the time left), so
// that no attempt, the holder's right one included, makes the delay
// longer. Past it, it counts the attempt as a failure in advance and
// starts the next, longer delay (returns 1 and that delay): of parallel
// guesses only one passes, and a right password refunds the charge
// (clearLoginFailures). The key expires ARGV[4] ms after the last charge.
// ARGV[5] names the attempt: the same attempt charged again (the client
// sends a script again when its answer is late) passes as it did, rather
// than be refused by its own charge.
var chargeLogin = redisscript.New(`
local now = tonumber(ARGV[1])
local v = redis.call('HMGET', KEYS[1], 'failures', 'until', 'attempt')
local failures = tonumber(v[1]) or 0
local untilMs = tonumber(v[2]) or 0
if v[3] == ARGV[5] then return {1, math.max(untilMs - now, 0)} end
if untilMs > now then return {0, untilMs - now} end
failures = math.min(failures + 1, 64)
local delay = math.min(tonumber(ARGV[2]) * 2 ^ (failures - 1), tonumber(ARGV[3]))
delay = math.floor(delay)
redis.call('HSET', KEYS[1], 'failures', failures, 'until', now + delay, 'attempt', ARGV[5])
redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[4]), delay))
return {1, delay}
`)

// chargeLogin lets one password attempt for iin through, or refuses it
// with rate-limited and the time left of the delay. It is the same for an
// IIN with or without an account, so it tells a prober nothing about
// which IINs have one.
func (a *App) chargeLogin(ctx context.Context, iin string) error {
	t := a.cfg.Throttle
	v, err := chargeLogin.Run(ctx, a.rdb, []string{a.loginThrottleKey(iin)}, a.now().UnixMilli(),
		t.LoginDelay.Milliseconds(), t.LoginDelayMax.Milliseconds(), t.LoginFailureMemory.Milliseconds(), uuid.NewString()).Int64Slice()
	if err != nil {
		return err
	}
	if len(v) != 2 {
		return fmt.Errorf("login throttle answered %v", v)
	}
	if v[0] == 0 {
		left := time.Duration(v[1]) * time.Millisecond
		e := egov.Errorf(egov.CodeRateLimited, "password sign-in for this IIN is delayed after failed attempts; try again in %s or sign in with the digital signature", left.Round(time.Second))
		e.RetryAfter = left
		return e
	}
	return nil
}

// clearLoginFailures forgets iin's failed password attempts: after a right
// password, a login by signature or a registration with proof, each of
// which shows the holder himself.
func (a *App) clearLoginFailures(ctx context.Context, iin string) error {
	return a.rdb.Del(ctx, a.loginThrottleKey(iin)).Err()
}

// Challenges are stateless: a nonce carries its own expiry and an HMAC of
// the portal's challenge key, so issuing one stores nothing, and a flood of
// GET /auth/challenge costs a hash each, not five minutes of Redis memory.
// Only a spent challenge is recorded (SET NX of its id, expiring with it),
// which keeps it one-use; spending needs a signature the verifier
// accepted, and both endpoints that spend are rate limited, so the records
// are bounded by those limits times the challenge's life. This was chosen
// over limits plus a global cap of stored challenges because a cap, once
// reached by a flood, refuses every honest citizen too.
//
// A nonce is hex of: version (1 byte), expiry in Unix milliseconds (8),
// random id (16), the first 16 bytes of HMAC-SHA256 over what precedes.
const (
	challengeVersion = 1
	challengeIDLen   = 16
	challengeMACLen  = 16
	challengeRawLen  = 1 + 8 + challengeIDLen + challengeMACLen
	challengeHexLen  = 2 * challengeRawLen
	// spentMargin keeps the record of a spent challenge a little past its
	// expiry, so that a clock stepping back cannot reopen it.
	spentMargin = time.Minute
)

// challengeKey returns the configured key, or the one shared in Redis,
// creating it on first use.
func (a *App) challengeKey(ctx context.Context) ([]byte, error) {
	a.throttle.mu.Lock()
	defer a.throttle.mu.Unlock()
	if a.throttle.key != nil {
		return a.throttle.key, nil
	}
	fresh := make([]byte, minChallengeKey)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	k := a.key("challenge-key")
	if err := a.rdb.SetNX(ctx, k, hex.EncodeToString(fresh), 0).Err(); err != nil {
		return nil, err
	}
	stored, err := a.rdb.Get(ctx, k).Result()
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(stored)
	if err != nil || len(key) < minChallengeKey {
		return nil, fmt.Errorf("gateway: the challenge key in %s is not %d bytes of hex", k, minChallengeKey)
	}
	a.throttle.key = key
	return key, nil
}

func challengeMAC(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("egov-gateway challenge\x00"))
	m.Write(body)
	return m.Sum(nil)[:challengeMACLen]
}

// newChallenge returns a nonce valid until now+challengeTTL.
func (a *App) newChallenge(ctx context.Context) (string, error) {
	key, err := a.challengeKey(ctx)
	if err != nil {
		return "", err
	}
	raw := make([]byte, 1+8+challengeIDLen, challengeRawLen)
	raw[0] = challengeVersion
	binary.BigEndian.PutUint64(raw[1:9], uint64(a.now().Add(challengeTTL).UnixMilli()))
	if _, err := rand.Read(raw[9:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(append(raw, challengeMAC(key, raw)...)), nil
}

// spendChallenge consumes an issued challenge: the first use wins; a
// second, an expired, a forged or a malformed one is refused.
func (a *App) spendChallenge(ctx context.Context, nonce string) error {
	if len(nonce) != challengeHexLen {
		return errors.New("malformed challenge")
	}
	raw, err := hex.DecodeString(nonce)
	if err != nil || raw[0] != challengeVersion {
		return errors.New("malformed challenge")
	}
	key, err := a.challengeKey(ctx)
	if err != nil {
		return err
	}
	body, mac := raw[:1+8+challengeIDLen], raw[1+8+challengeIDLen:]
	if !hmac.Equal(mac, challengeMAC(key, body)) {
		return errors.New("challenge not issued by this portal")
	}
	left := time.UnixMilli(int64(binary.BigEndian.Uint64(raw[1:9]))).Sub(a.now())
	if left <= 0 {
		return errors.New("expired challenge")
	}
	ok, err := a.rdb.SetNX(ctx, a.key("challenge-spent", hex.EncodeToString(raw[9:9+challengeIDLen])), "1", left+spentMargin).Result()
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("used challenge")
	}
	return nil
}
