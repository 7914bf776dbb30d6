package gateway_test

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"egov/gateway"
)

// from returns a client whose connections leave from the loopback address
// addr (Linux answers on all of 127.0.0.0/8), as another host would.
func from(addr string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

const (
	ownerAddr    = "127.0.0.1"
	attackerAddr = "127.0.0.2"
)

// retryAfter reads a Retry-After header in seconds, -1 when absent.
func retryAfter(h http.Header) int {
	v := h.Get("Retry-After")
	if v == "" {
		return -1
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -2
	}
	return n
}

// fastDelays: 1 s after the first failure, doubling, at most 8 s.
func fastDelays(c *gateway.Config) {
	c.Throttle.LoginDelay, c.Throttle.LoginDelayMax = time.Second, 8*time.Second
}

// TestPasswordDelays: failures for an IIN delay its next password attempt
// (1, 2, 4, 8, 8 s by the injected clock) instead of locking the account;
// inside the delay every attempt, the holder's right one included, is 429
// with Retry-After and changes nothing; the holder gets in after the delay,
// or at once by signature.
func TestPasswordDelays(t *testing.T) {
	type step struct {
		wait   time.Duration // the clock moves first
		do     string        // wrong (from the stranger), right (from the holder), signature
		status int
		retry  int // the Retry-After of a 429
	}
	wrongs := func(delays ...time.Duration) []step { // failures spaced by the delays they cause
		out := []step{{0, "wrong", 401, 0}}
		for _, d := range delays {
			out = append(out, step{d, "wrong", 401, 0})
		}
		return out
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"the delay grows and is capped", []step{
			{0, "wrong", 401, 0}, {0, "wrong", 429, 1},
			{time.Second, "wrong", 401, 0}, {0, "wrong", 429, 2},
			{2 * time.Second, "wrong", 401, 0}, {0, "wrong", 429, 4},
			{4 * time.Second, "wrong", 401, 0}, {0, "wrong", 429, 8},
			{8 * time.Second, "wrong", 401, 0}, {0, "wrong", 429, 8},
			{8 * time.Second, "wrong", 401, 0}, {time.Second, "wrong", 429, 7},
		}},
		{"a stranger's failures do not lock the holder out", append(wrongs(time.Second, 2*time.Second, 4*time.Second, 8*time.Second, 8*time.Second),
			step{0, "right", 429, 8}, step{8 * time.Second, "right", 201, 0})},
		{"the holder's right password inside the delay does not extend it", append(wrongs(time.Second, 2*time.Second),
			step{time.Second, "right", 429, 3}, step{time.Second, "right", 429, 2}, step{time.Second, "right", 429, 1},
			step{time.Second, "right", 201, 0})},
		{"a right password starts the count afresh", []step{
			{0, "wrong", 401, 0}, {time.Second, "right", 201, 0}, {0, "wrong", 401, 0}, {0, "wrong", 429, 1}}},
		{"a login by signature ends the delay", append(wrongs(time.Second, 2*time.Second, 4*time.Second, 8*time.Second, 8*time.Second),
			step{0, "right", 429, 8}, step{0, "signature", 201, 0}, step{0, "right", 201, 0})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, fastDelays)
			e.register(citizenIIN)
			stranger, holder := from(attackerAddr), from(ownerAddr)
			for i, s := range tt.steps {
				e.clock.Add(s.wait)
				var p problem
				var code int
				var h http.Header
				switch s.do {
				case "wrong":
					code, h = e.callVia(stranger, "POST", "/api/v1/sessions", "", map[string]string{"iin": citizenIIN, "password": "Wrong-password-1"}, &p)
				case "right":
					code, h = e.callVia(holder, "POST", "/api/v1/sessions", "", map[string]string{"iin": citizenIIN, "password": passwordOK}, &p)
				case "signature":
					code, h = e.callVia(holder, "POST", "/api/v1/sessions/signature", "", e.signedChallenge("citizen-auth"), &p)
				}
				want := map[int]string{401: "authorization-refused", 429: "rate-limited", 201: ""}[s.status]
				if code != s.status || p.Code != want {
					t.Fatalf("step %d %s: %d %s, want %d %s", i, s.do, code, p.Code, s.status, want)
				}
				if s.status == 429 && retryAfter(h) != s.retry {
					t.Fatalf("step %d %s: Retry-After %q, want %d", i, s.do, h.Get("Retry-After"), s.retry)
				}
			}
		})
	}
}

// TestIINWithoutAccount: guesses at an IIN without an account are answered
// exactly as those at one with, leave one expiring counter and nothing
// else, and do not delay the holder who registers later.
func TestIINWithoutAccount(t *testing.T) {
	e := newEnvWith(t, fastDelays)
	e.register(citizenIIN)
	stranger := from(attackerAddr)
	type answer struct {
		status     int
		code       string
		retryAfter int
	}
	probe := func(iin string) []answer {
		var out []answer
		for _, wait := range []time.Duration{0, 0, time.Second, 0} {
			e.clock.Add(wait)
			var p problem
			code, h := e.callVia(stranger, "POST", "/api/v1/sessions", "", map[string]string{"iin": iin, "password": "Wrong-password-1"}, &p)
			out = append(out, answer{code, p.Code, retryAfter(h)})
		}
		return out
	}
	want := []answer{{401, "authorization-refused", -1}, {429, "rate-limited", 1}, {401, "authorization-refused", -1}, {429, "rate-limited", 2}}
	for _, iin := range []string{citizenIIN, citizen2IIN} {
		if got := probe(iin); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
			t.Fatalf("guesses at %s answered %v, want %v", iin, got, want)
		}
	}
	ctx := context.Background()
	keys, err := e.redis.Keys(ctx, e.redis.Prefix+"*"+citizen2IIN+"*")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("guesses at an IIN without an account left %v", keys)
	}
	if ttl := e.redis.Client.PTTL(ctx, keys[0]).Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("the counter of an IIN without an account expires in %s", ttl)
	}
	// A malformed IIN leaves nothing at all.
	e.callVia(stranger, "POST", "/api/v1/sessions", "", map[string]string{"iin": "123456789011", "password": "x"}, nil)
	if n := len(must(e.redis.Keys(ctx, e.redis.Prefix+"*123456789011*"))); n != 0 {
		t.Fatalf("a malformed IIN left %d keys", n)
	}
	// The holder registers (proving the IIN) and logs in at once.
	e.register(citizen2IIN)
	e.login(citizen2IIN)
}

// TestParallelGuesses: of guesses sent at the same instant only one is
// checked; the others wait out the delay it starts.
func TestParallelGuesses(t *testing.T) {
	e := newEnvWith(t, fastDelays)
	e.register(citizenIIN)
	const n = 8
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Each from its own address, so no address limit interferes.
			code, _ := e.callVia(from("127.0.0."+strconv.Itoa(10+i)), "POST", "/api/v1/sessions", "", map[string]string{"iin": citizenIIN, "password": "Wrong-password-1"}, nil)
			codes <- code
		}(i)
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[401] != 1 || count[429] != n-1 {
		t.Fatalf("%d parallel guesses answered %v, want one 401 and the rest 429", n, count)
	}
}

// TestAddressAndNetworkLimits: each address has its budget, and all the
// addresses of one /24 share their network's; another /24 is not touched.
func TestAddressAndNetworkLimits(t *testing.T) {
	e := newEnvWith(t, func(c *gateway.Config) { c.AttemptsPerMinute, c.Throttle.PrefixAttemptsPerMinute = 3, 5 })
	steps := []struct {
		addr   string
		status int
	}{
		{"127.0.0.1", 401}, {"127.0.0.1", 401}, {"127.0.0.1", 401},
		{"127.0.0.1", 429}, // the address's own limit
		{"127.0.0.2", 401}, {"127.0.0.2", 401},
		{"127.0.0.2", 429}, // fresh address, same /24: the network's limit
		{"127.0.0.3", 429},
		{"127.0.1.1", 401}, // another /24
	}
	for i, s := range steps {
		var p problem
		// A malformed IIN: refused at once, so only the limits can answer 429.
		code, h := e.callVia(from(s.addr), "POST", "/api/v1/sessions", "", map[string]string{"iin": "x", "password": "y"}, &p)
		if code != s.status {
			t.Fatalf("step %d from %s: %d %s, want %d", i, s.addr, code, p.Code, s.status)
		}
		if code == 429 && (p.Code != "rate-limited" || retryAfter(h) < 1) {
			t.Fatalf("step %d from %s: 429 %s with Retry-After %q", i, s.addr, p.Code, h.Get("Retry-After"))
		}
	}
}

// TestUnauthenticatedEndpointsLimited: every endpoint that costs without a
// session counts against the address, and its 429 carries Retry-After.
func TestUnauthenticatedEndpointsLimited(t *testing.T) {
	e := newEnvWith(t, func(c *gateway.Config) { c.AttemptsPerMinute = 1 })
	tests := []struct {
		name, method, path string
		body               any
	}{
		{"registration", "POST", "/api/v1/accounts", map[string]string{"iin": "123456789011"}},
		{"code request", "POST", "/api/v1/accounts/codes", map[string]string{"iin": "123456789011"}},
		{"password login", "POST", "/api/v1/sessions", map[string]string{"iin": "x", "password": "y"}},
		{"signature login", "POST", "/api/v1/sessions/signature", []byte("<AuthChallenge/>")},
		{"challenge", "GET", "/api/v1/auth/challenge", nil},
	}
	for i, tt := range tests {
		// Each from its own /24, so that only the address's limit counts.
		client := from("127.0." + strconv.Itoa(20+i) + ".1")
		e.callVia(client, tt.method, tt.path, "", tt.body, nil)
		var p problem
		code, h := e.callVia(client, tt.method, tt.path, "", tt.body, &p)
		if code != 429 || p.Code != "rate-limited" || retryAfter(h) < 1 || retryAfter(h) > 60 {
			t.Errorf("%s, second attempt: %d %s, Retry-After %q", tt.name, code, p.Code, h.Get("Retry-After"))
		}
	}
}

// TestCodeLimitRetryAfter: the sixth code of an hour for one IIN is 429
// with the time until the hour's count starts afresh.
func TestCodeLimitRetryAfter(t *testing.T) {
	e := newEnv(t)
	e.clock.Add(20 * time.Minute) // 05:20 UTC: 40 minutes left of the hour
	for i := 0; i < 5; i++ {
		e.requestCode(citizenIIN, citizenPhone)
	}
	var p problem
	code, h := e.call("POST", "/api/v1/accounts/codes", "", map[string]string{"iin": citizenIIN}, &p)
	if code != 429 || p.Code != "rate-limited" || retryAfter(h) != 40*60 {
		t.Fatalf("sixth code: %d %s, Retry-After %q", code, p.Code, h.Get("Retry-After"))
	}
}

// TestChallengeFlood: a flood of challenges from one address is cut at its
// limit, and issuing them stores nothing.
func TestChallengeFlood(t *testing.T) {
	e := newEnvWith(t, func(c *gateway.Config) { c.AttemptsPerMinute = 30 })
	ctx := context.Background()
	// The first challenge creates the portal's challenge key, once.
	if code, _ := e.call("GET", "/api/v1/auth/challenge", "", nil, nil); code != 200 {
		t.Fatalf("first challenge: %d", code)
	}
	// The portal's keys, but the relay's hint streams, which the relay makes in
	// the background when it starts.
	portalKeys := func() []string {
		var out []string
		for _, k := range must(e.redis.Keys(ctx, e.redis.Prefix+"gw:*")) {
			if !strings.Contains(k, "gw:{outbox:") {
				out = append(out, k)
			}
		}
		return out
	}
	before := portalKeys()
	ok, limited := 1, 0
	for i := 1; i < 60; i++ {
		code, h := e.call("GET", "/api/v1/auth/challenge", "", nil, nil)
		switch {
		case code == 200:
			ok++
		case code == 429 && retryAfter(h) >= 1:
			limited++
		default:
			t.Fatalf("challenge %d: %d, Retry-After %q", i, code, h.Get("Retry-After"))
		}
	}
	if ok > 31 || limited < 29 { // 30 at once, perhaps one more as the limit refills
		t.Fatalf("60 challenges from one address: %d issued, %d limited", ok, limited)
	}
	if after := portalKeys(); len(after) != len(before) {
		t.Fatalf("issuing %d challenges stored keys: %v before, %v after", ok, before, after)
	}
}

// TestChallengesOneUse: a challenge is spent by its first login or
// registration, whichever it is, expires by the portal's clock, and of two
// uses at once one wins.
func TestChallengesOneUse(t *testing.T) {
	tests := []struct {
		name  string
		first string // login or register
		then  string
		wait  time.Duration // before the first use
		want  [2]int
	}{
		{"login, then login", "login", "login", 0, [2]int{201, 401}},
		{"registration, then login", "register", "login", 0, [2]int{201, 401}},
		{"login, then registration", "login", "register", 0, [2]int{201, 403}},
		{"expired after five minutes", "login", "", 5*time.Minute + time.Second, [2]int{401}},
		{"just inside five minutes", "login", "", 5*time.Minute - time.Second, [2]int{201}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			signed := e.signedChallenge("citizen")
			e.clock.Add(tt.wait)
			use := func(how string) int {
				if how == "login" {
					code, _ := e.call("POST", "/api/v1/sessions/signature", "", signed, nil)
					return code
				}
				code, _ := e.call("POST", "/api/v1/accounts", "", map[string]string{"iin": citizenIIN, "password": passwordOK, "signedChallenge": string(signed)}, nil)
				return code
			}
			if got := use(tt.first); got != tt.want[0] {
				t.Fatalf("first use (%s): %d, want %d", tt.first, got, tt.want[0])
			}
			if tt.then != "" {
				if got := use(tt.then); got != tt.want[1] {
					t.Fatalf("second use (%s): %d, want %d", tt.then, got, tt.want[1])
				}
			}
		})
	}
	t.Run("two at once", func(t *testing.T) {
		e := newEnv(t)
		signed := e.signedChallenge("citizen-auth")
		codes := make(chan int, 4)
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, _ := e.call("POST", "/api/v1/sessions/signature", "", signed, nil)
				codes <- code
			}()
		}
		wg.Wait()
		close(codes)
		won := 0
		for c := range codes {
			if c == 201 {
				won++
			} else if c != 401 {
				t.Errorf("a concurrent use answered %d", c)
			}
		}
		if won != 1 {
			t.Fatalf("%d of 4 concurrent uses of one challenge succeeded", won)
		}
	})
	t.Run("a nonce the portal did not issue", func(t *testing.T) {
		e := newEnv(t)
		var ch struct{ Document, Nonce string }
		e.call("GET", "/api/v1/auth/challenge", "", nil, &ch)
		// The last hex digit changed: the MAC no longer matches.
		last := map[bool]string{true: "1", false: "0"}[strings.HasSuffix(ch.Nonce, "0")]
		forged := strings.Replace(ch.Document, ch.Nonce, ch.Nonce[:len(ch.Nonce)-1]+last, 1)
		signed, err := signer(t, "citizen-auth").Sign([]byte(forged))
		if err != nil {
			t.Fatal(err)
		}
		if code, _ := e.call("POST", "/api/v1/sessions/signature", "", signed, nil); code != 401 {
			t.Fatalf("a forged nonce, signed: %d", code)
		}
	})
}

// must is the value of a call that cannot fail in a test that has Redis.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
