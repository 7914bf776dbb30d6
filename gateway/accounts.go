package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"sync"
	"time"
	"unicode"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"egov"
	"egov/internal/password"
	"egov/signing"
	"egov/sms"
)

// Session is a logged-in citizen. A session belongs to exactly one IIN,
// proven at login (by signature) or at registration (the account's proof).
type Session struct {
	IIN string `json:"iin"`
	BIN string `json:"bin,omitempty"`
	// Method is how the citizen logged in: password or signature.
	Method string `json:"method"`
	// Account is the id of the citizen's account the session is bound to;
	// "" for a login by signature of an IIN without an account.
	Account string `json:"account,omitempty"`
}

// Account policy.
const (
	minPasswordLen  = 10
	maxPasswordLen  = 128
	attemptsPerMin  = 20               // default attempts a minute per client address (Config.AttemptsPerMinute)
	sessionLifetime = 30 * time.Minute // idle time after which a session ends
	challengeTTL    = 5 * time.Minute
)

// dummyHash is checked when an IIN has no account, so that a login takes
// the same time whether the account exists or not.
var dummyHash = sync.OnceValue(func() string {
	h, err := password.Hash("no such account")
	if err != nil {
		panic(err)
	}
	return h
})

func (a *App) accountKey(iin string) string { return a.key("{"+iin+"}", "account") }
func (a *App) sessionKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return a.key("session", hex.EncodeToString(sum[:]))
}

func checkPasswordPolicy(secret, iin string) error {
	var letter, digit bool
	for _, r := range secret {
		letter = letter || unicode.IsLetter(r)
		digit = digit || unicode.IsDigit(r)
	}
	n := len([]rune(secret))
	if n < minPasswordLen || n > maxPasswordLen || !letter || !digit || secret == iin {
		return egov.Errorf(egov.CodePasswordWeak, "password policy")
	}
	return nil
}

// Login checks an IIN and password and opens a session. Every refusal
// of the password looks the same (authorization-refused), whether the IIN
// has no account or the password is wrong. Failures do not lock the
// account: each one delays the next password attempt for that IIN
// (chargeLogin), and an attempt inside the delay, right or wrong, is
// refused with rate-limited and the time left, the same for every IIN.
func (a *App) Login(ctx context.Context, iin, secret string) (string, *Session, error) {
	refused := egov.Errorf(egov.CodeAuthorizationRefused, "login refused")
	if _, err := signing.ParseIIN(iin); err != nil {
		password.Check(dummyHash(), secret)
		return "", nil, refused
	}
	// Before the account is read, so the delay is the same with or without
	// one, and the argon2id check is not spent on a refused attempt.
	if err := a.chargeLogin(ctx, iin); err != nil {
		return "", nil, err
	}
	acct, err := a.rdb.HMGet(ctx, a.accountKey(iin), "passwordHash", "bin", "id").Result()
	if err != nil {
		return "", nil, err
	}
	hash, _ := acct[0].(string)
	if hash == "" {
		hash = dummyHash()
	}
	if !password.Check(hash, secret) || acct[0] == nil {
		a.log.Info("login refused", "iin", signing.MaskIIN(iin))
		return "", nil, refused
	}
	if err := a.clearLoginFailures(ctx, iin); err != nil {
		return "", nil, err
	}
	bin, _ := acct[1].(string)
	id, _ := acct[2].(string)
	if id == "" {
		if id, err = a.accountID(ctx, iin); err != nil {
			return "", nil, err
		}
	}
	sess := &Session{IIN: iin, BIN: bin, Method: "password", Account: id}
	token, err := a.openSession(ctx, *sess)
	return token, sess, err
}

func (a *App) openSession(ctx context.Context, s Session) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	key := a.sessionKey(token)
	pipe := a.rdb.TxPipeline()
	pipe.HSet(ctx, key, "iin", s.IIN, "bin", s.BIN, "method", s.Method, "account", s.Account, "createdAt", a.now().UnixMilli())
	pipe.Expire(ctx, key, sessionLifetime)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", err
	}
	return token, nil
}

// SessionOf returns the session of a token and extends its life; an
// unknown, expired or malformed token is refused.
func (a *App) SessionOf(ctx context.Context, token string) (*Session, error) {
	return a.sessionOf(ctx, token, true)
}

// peekSession is SessionOf without extending the session: what a page's
// script asks by itself (a state it keeps current) must not keep a
// forgotten tab logged in.
func (a *App) peekSession(ctx context.Context, token string) (*Session, error) {
	return a.sessionOf(ctx, token, false)
}

func (a *App) sessionOf(ctx context.Context, token string, extend bool) (*Session, error) {
	if len(token) != 43 {
		return nil, egov.Errorf(egov.CodeAuthorizationRefused, "malformed session token")
	}
	key := a.sessionKey(token)
	pipe := a.rdb.Pipeline()
	get := pipe.HMGet(ctx, key, "iin", "bin", "method", "account")
	if extend {
		pipe.Expire(ctx, key, sessionLifetime)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	v := get.Val()
	iin, _ := v[0].(string)
	if iin == "" {
		return nil, egov.Errorf(egov.CodeAuthorizationRefused, "unknown or expired session")
	}
	bin, _ := v[1].(string)
	method, _ := v[2].(string)
	account, _ := v[3].(string)
	return &Session{IIN: iin, BIN: bin, Method: method, Account: account}, nil
}

// Logout ends a session.
func (a *App) Logout(ctx context.Context, token string) error {
	return a.rdb.Del(ctx, a.sessionKey(token)).Err()
}

// Challenge issues a one-time value to sign for a login or a registration
// by signature, valid for challengeTTL. It counts against the client
// address's and its network's attempts, and stores nothing (see
// spendChallenge in throttle.go).
func (a *App) Challenge(ctx context.Context) (string, error) {
	return a.newChallenge(ctx)
}

// ChallengeNamespace is the namespace of the signed login challenge.
const ChallengeNamespace = "urn:egov-gateway:auth:v1"

// LoginBySignature opens a session for the IIN of the certificate that
// signed an AuthChallenge document holding an unused challenge (the
// Almaty city regulation: login with the digital signature). When that IIN
// has an account the session is bound to it: it carries the account's id,
// and its BIN when the certificate names none.
func (a *App) LoginBySignature(ctx context.Context, doc []byte) (string, *Session, error) {
	res, err := a.authVerifier.Verify(ctx, doc)
	if err != nil {
		return "", nil, err
	}
	nonce, err := challengeNonce(res.Element)
	if err != nil {
		return "", nil, err
	}
	if err := a.spendChallenge(ctx, nonce); err != nil {
		return "", nil, egov.Errorf(egov.CodeAuthorizationRefused, "%w", err)
	}
	if _, err := signing.ParseIIN(res.Signer.IIN); err != nil {
		return "", nil, egov.Errorf(egov.CodeAuthorizationRefused, "certificate without a valid IIN")
	}
	// The holder's own signature: whatever strangers guessed, his
	// password logins need not wait any longer.
	if err := a.clearLoginFailures(ctx, res.Signer.IIN); err != nil {
		return "", nil, err
	}
	s := &Session{IIN: res.Signer.IIN, BIN: res.Signer.BIN, Method: "signature"}
	acct, err := a.rdb.HMGet(ctx, a.accountKey(s.IIN), "passwordHash", "id", "bin").Result()
	if err != nil {
		return "", nil, err
	}
	if acct[0] != nil {
		if s.Account, _ = acct[1].(string); s.Account == "" {
			if s.Account, err = a.accountID(ctx, s.IIN); err != nil {
				return "", nil, err
			}
		}
		if bin, _ := acct[2].(string); s.BIN == "" {
			s.BIN = bin
		}
	}
	token, err := a.openSession(ctx, *s)
	return token, s, err
}

// accountID returns the id of iin's account, giving one to an account
// opened before accounts had ids.
func (a *App) accountID(ctx context.Context, iin string) (string, error) {
	if err := a.rdb.HSetNX(ctx, a.accountKey(iin), "id", uuid.NewString()).Err(); err != nil {
		return "", err
	}
	return a.rdb.HGet(ctx, a.accountKey(iin), "id").Result()
}

// challengeNonce reads the nonce of a verified AuthChallenge element.
func challengeNonce(el *etree.Element) (string, error) {
	nonceEl := el.FindElement("./Nonce")
	if el.Tag != "AuthChallenge" || el.NamespaceURI() != ChallengeNamespace || nonceEl == nil {
		return "", formError("the signed document must be {%s}AuthChallenge with a Nonce", ChallengeNamespace)
	}
	return nonceEl.Text(), nil
}

// AccountInfo is what a session may read about its own account.
type AccountInfo struct {
	ID string `json:"id"`
	// Phone is masked; Proof says how the IIN was proven at registration
	// (signature, sms-code, or "" for an account opened before proofs).
	Phone     string    `json:"phone,omitempty"`
	Proof     string    `json:"proof"`
	CreatedAt time.Time `json:"createdAt"`
}

// AccountOf returns the account a session is bound to, nil when none.
func (a *App) AccountOf(ctx context.Context, s *Session) (*AccountInfo, error) {
	if s.Account == "" {
		return nil, nil
	}
	v, err := a.rdb.HMGet(ctx, a.accountKey(s.IIN), "id", "phone", "proof", "createdAt").Result()
	if err != nil {
		return nil, err
	}
	if id, _ := v[0].(string); id != s.Account {
		return nil, egov.Errorf(egov.CodeAuthorizationRefused, "session bound to another account")
	}
	info := &AccountInfo{ID: s.Account}
	if p, _ := v[1].(string); p != "" {
		info.Phone = sms.Phone(p).Masked()
	}
	info.Proof, _ = v[2].(string)
	if ms, _ := v[3].(string); ms != "" {
		n, _ := strconv.ParseInt(ms, 10, 64)
		info.CreatedAt = time.UnixMilli(n).UTC()
	}
	return info, nil
}
