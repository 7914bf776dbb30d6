package gateway_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"egov/internal/redistest"
	"egov/sms"
)

// Phones of the mobile register's built-in data set.
const (
	citizenPhone  = "+77011234534"
	citizen2Phone = "+77027654321"
	childIIN      = "100203500443" // a child: no phone in the register
)

var sixDigits = regexp.MustCompile(`\b[0-9]{6}\b`)

// lastCode reads the newest one-time code from a phone's outbox at the SMS
// gateway, as the citizen reads his phone.
func (e *env) lastCode(phone string) string {
	e.t.Helper()
	msgs, err := e.sms.Outbox(context.Background(), sms.Phone(phone))
	if err != nil || len(msgs) == 0 {
		e.t.Fatalf("outbox of %s: %v %d messages", phone, err, len(msgs))
	}
	code := sixDigits.FindString(msgs[0].Text)
	if code == "" {
		e.t.Fatalf("no code in %q", msgs[0].Text)
	}
	return code
}

// raw posts JSON and returns the status and the answer as it came.
func (e *env) raw(path string, body any) (int, string) {
	e.t.Helper()
	var out string
	code, _ := e.call("POST", path, "", body, &out)
	return code, out
}

func codeOf(answer string) string {
	m := regexp.MustCompile(`"code":"([^"]*)"`).FindStringSubmatch(answer)
	if m == nil {
		return ""
	}
	return m[1]
}

// requestCode asks for a code and checks the answer names the phone only
// masked.
func (e *env) requestCode(iin, phone string) {
	e.t.Helper()
	var sent struct {
		SentTo    string
		ExpiresIn int
	}
	if code, _ := e.call("POST", "/api/v1/accounts/codes", "", map[string]string{"iin": iin}, &sent); code != http.StatusAccepted {
		e.t.Fatalf("code for %s: %d", iin, code)
	}
	if want := sms.Phone(phone).Masked(); sent.SentTo != want || sent.ExpiresIn != 300 {
		e.t.Fatalf("code sent to %q for %d s, want %q for 300 s", sent.SentTo, sent.ExpiresIn, want)
	}
}

// TestSquatterCannotRegisterAVictimsIIN is issue 13's attack: a stranger
// tries to open an account for the victim's IIN with his own password, by
// every way he has, and each fails; then the owner registers.
func TestSquatterCannotRegisterAVictimsIIN(t *testing.T) {
	for _, ownerProof := range []string{"signature", "sms-code"} {
		t.Run("owner by "+ownerProof, func(t *testing.T) {
			e := newEnv(t)
			const squatterPassword = "Squatter-2026-x"
			var answers []string
			// The squatter can make the portal send a code to the victim's
			// phone, but he does not read that phone.
			e.requestCode(citizenIIN, citizenPhone)
			sent := e.lastCode(citizenPhone)
			guess := "000000"
			if guess == sent {
				guess = "000001"
			}
			attacks := []struct {
				name string
				body map[string]string
				want string
			}{
				{"no proof", map[string]string{"iin": citizenIIN, "password": squatterPassword}, "identity-not-proven"},
				{"no proof, his own phone", map[string]string{"iin": citizenIIN, "password": squatterPassword, "phone": citizen2Phone}, "identity-not-proven"},
				{"a challenge signed with his own certificate", map[string]string{"iin": citizenIIN, "password": squatterPassword,
					"signedChallenge": string(e.signedChallenge("citizen2"))}, "identity-not-proven"},
				{"a guessed code", map[string]string{"iin": citizenIIN, "password": squatterPassword, "code": guess}, "one-time-code-invalid"},
				{"a code with his own phone", map[string]string{"iin": citizenIIN, "password": squatterPassword, "code": guess, "phone": citizen2Phone}, "one-time-code-invalid"},
				{"not digits", map[string]string{"iin": citizenIIN, "password": squatterPassword, "code": "12345x"}, "one-time-code-invalid"},
				{"both proofs, one his", map[string]string{"iin": citizenIIN, "password": squatterPassword, "code": guess,
					"signedChallenge": string(e.signedChallenge("citizen2"))}, "identity-not-proven"},
			}
			for _, a := range attacks {
				code, ans := e.raw("/api/v1/accounts", a.body)
				answers = append(answers, ans)
				if code != http.StatusForbidden || codeOf(ans) != a.want {
					t.Errorf("%s: %d %s, want 403 %s", a.name, code, codeOf(ans), a.want)
				}
			}
			if code, _ := e.call("POST", "/api/v1/sessions", "", map[string]string{"iin": citizenIIN, "password": squatterPassword}, nil); code != http.StatusUnauthorized {
				t.Fatalf("the squatter logged in: %d", code)
			}

			// The owner proves his IIN. Three wrong tries were spent, so
			// his code still has two.
			body := map[string]string{"iin": citizenIIN, "password": passwordOK}
			if ownerProof == "signature" {
				body["signedChallenge"] = string(e.signedChallenge("citizen"))
			} else {
				body["code"] = sent
			}
			code, ans := e.raw("/api/v1/accounts", body)
			answers = append(answers, ans)
			if code != http.StatusCreated || !strings.Contains(ans, `"proof":"`+ownerProof+`"`) {
				t.Fatalf("owner's registration: %d %s", code, ans)
			}
			token := e.login(citizenIIN)
			var cur struct {
				IIN     string
				Account *struct{ ID, Phone, Proof string }
			}
			if code, _ := e.call("GET", "/api/v1/sessions/current", token, nil, &cur); code != http.StatusOK || cur.Account == nil || cur.Account.Proof != ownerProof {
				t.Fatalf("owner's session: %d %+v", code, cur)
			}
			if ownerProof == "sms-code" && cur.Account.Phone != sms.Phone(citizenPhone).Masked() {
				t.Fatalf("account phone %q: the register's, masked, expected", cur.Account.Phone)
			}
			// The code is in no answer and in no log line.
			for _, ans := range answers {
				if strings.Contains(ans, sent) {
					t.Fatalf("an answer holds the code: %s", ans)
				}
			}
			if logs := e.logs.String(); strings.Contains(logs, sent) || strings.Contains(logs, citizenPhone) || strings.Contains(logs, citizenIIN) {
				t.Fatalf("the log holds the code, the phone or the IIN:\n%s", logs)
			}
		})
	}
}

// TestOneTimeCodes: a code serves once, for five minutes (by the injected
// clock), for five tries; codes per IIN are bounded.
// codeStep is one step of a one-time code's life: what the citizen does
// (request, right, wrong, old, wait, hour) and the refusal code he gets,
// "" for success.
type codeStep struct {
	do, want string
}

func TestOneTimeCodes(t *testing.T) {
	type step = codeStep
	tests := []struct {
		name  string
		steps []step
	}{
		{"right code", []step{{"request", ""}, {"right", ""}}},
		{"used twice", []step{{"request", ""}, {"right", ""}, {"right", "one-time-code-invalid"}}},
		{"expired after five minutes", []step{{"request", ""}, {"wait", ""}, {"right", "one-time-code-invalid"}}},
		{"four wrong tries, then right", []step{{"request", ""}, {"wrong", "one-time-code-invalid"}, {"wrong", "one-time-code-invalid"},
			{"wrong", "one-time-code-invalid"}, {"wrong", "one-time-code-invalid"}, {"right", ""}}},
		{"five wrong tries lock the code", []step{{"request", ""}, {"wrong", "one-time-code-invalid"}, {"wrong", "one-time-code-invalid"},
			{"wrong", "one-time-code-invalid"}, {"wrong", "one-time-code-invalid"}, {"wrong", "one-time-code-invalid"}, {"right", "one-time-code-invalid"}}},
		{"a new code replaces the old", []step{{"request", ""}, {"request", ""}, {"old", "one-time-code-invalid"}, {"right", ""}}},
		{"no code requested", []step{{"wrong", "one-time-code-invalid"}}},
		{"five codes an hour", []step{{"request", ""}, {"request", ""}, {"request", ""}, {"request", ""}, {"request", ""},
			{"request", "rate-limited"}, {"hour", ""}, {"request", ""}, {"right", ""}}},
	}
	// Each case also with every script run twice, as the client sends a
	// script again when its answer is late: a try counts once, and the
	// right code is not refused by its own first spending.
	for _, tt := range tests {
		for _, twice := range []bool{false, true} {
			name := tt.name
			if twice {
				name += ", scripts run twice"
			}
			t.Run(name, func(t *testing.T) {
				r := redistest.New(t)
				if twice {
					redistest.RunScriptsTwice(r.Client)
				}
				e := newEnvOn(t, r, nil)
				oneTimeCodeSteps(t, e, tt.steps)
			})
		}
	}
}

// oneTimeCodeSteps runs one case of TestOneTimeCodes.
func oneTimeCodeSteps(t *testing.T, e *env, steps []codeStep) {
	var current, old string
	for i, s := range steps {
		var code int
		var ans string
		switch s.do {
		case "request":
			code, ans = e.raw("/api/v1/accounts/codes", map[string]string{"iin": citizenIIN})
			if code == http.StatusAccepted {
				old, current = current, e.lastCode(citizenPhone)
			}
		case "wait":
			e.clock.Add(5*time.Minute + time.Second)
			continue
		case "hour":
			e.clock.Add(time.Hour)
			continue
		case "right", "wrong", "old":
			guess := current
			if s.do == "old" {
				guess = old
			}
			if s.do == "wrong" {
				guess = map[bool]string{true: "111111", false: "222222"}[current != "111111"]
			}
			code, ans = e.raw("/api/v1/accounts", map[string]string{"iin": citizenIIN, "password": passwordOK, "code": guess})
			if s.want == "" && code == http.StatusCreated {
				// A success opens the account; later steps try again on it.
				continue
			}
		}
		if got := codeOf(ans); got != s.want || (s.want == "" && code >= 400) {
			t.Fatalf("step %d %s: %d %s, want %q", i, s.do, code, ans, s.want)
		}
	}
}

func TestCodeRequestRefusals(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, iin string
		status    int
		want      string
	}{
		{"no phone in the mobile register", childIIN, 422, "phone-not-registered"},
		{"not an IIN", "123456789011", 400, "iin-invalid"},
	}
	for _, tt := range tests {
		if code, ans := e.raw("/api/v1/accounts/codes", map[string]string{"iin": tt.iin}); code != tt.status || codeOf(ans) != tt.want {
			t.Errorf("%s: %d %s, want %d %s", tt.name, code, ans, tt.status, tt.want)
		}
	}
	// With a code the account's phone is the register's.
	e.requestCode(citizen2IIN, citizen2Phone)
	code, ans := e.raw("/api/v1/accounts", map[string]string{"iin": citizen2IIN, "password": passwordOK, "code": e.lastCode(citizen2Phone), "phone": "+77010000000"})
	if code != 400 || codeOf(ans) != "phone-invalid" {
		t.Fatalf("another phone with a code: %d %s", code, ans)
	}
}

// TestRegistrationChallenge: a registration challenge is spent by its
// first use; signature refusals keep their own codes.
func TestRegistrationChallenge(t *testing.T) {
	e := newEnv(t)
	signed := string(e.signedChallenge("citizen"))
	code, ans := e.raw("/api/v1/accounts", map[string]string{"iin": citizenIIN, "password": "short", "signedChallenge": signed})
	if code != 400 || codeOf(ans) != "password-weak" {
		t.Fatalf("weak password: %d %s", code, ans)
	}
	// The policy is checked before the proof: the challenge is still unused.
	if code, ans := e.raw("/api/v1/accounts", map[string]string{"iin": citizenIIN, "password": passwordOK, "signedChallenge": signed}); code != 201 {
		t.Fatalf("registration by signature: %d %s", code, ans)
	}
	tests := []struct {
		name, iin, doc string
		status         int
		want           string
	}{
		{"the same challenge again", citizen2IIN, signed, 403, "identity-not-proven"},
		{"tampered challenge", citizen2IIN, strings.Replace(string(e.signedChallenge("citizen2")), "<Nonce>", "<Nonce>0", 1), 400, "signature-invalid"},
		{"expired certificate", citizen2IIN, string(e.signedChallenge("expired")), 400, "certificate-expired"},
		{"not a challenge", citizen2IIN, "<AuthChallenge/>", 400, "signature-missing"},
	}
	for _, tt := range tests {
		if code, ans := e.raw("/api/v1/accounts", map[string]string{"iin": tt.iin, "password": passwordOK, "signedChallenge": tt.doc}); code != tt.status || codeOf(ans) != tt.want {
			t.Errorf("%s: %d %s, want %d %s", tt.name, code, ans, tt.status, tt.want)
		}
	}
}

// TestSignatureLoginBindsToTheAccount: a login by signature for an IIN with
// an account belongs to that account, like a password login; without an
// account it belongs to the certificate's IIN alone.
func TestSignatureLoginBindsToTheAccount(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	type current struct {
		IIN, Method string
		Account     *struct{ ID, Proof string }
	}
	tests := []struct {
		name, key, iin string
		bound          bool
	}{
		{"authentication key, account exists", "citizen-auth", citizenIIN, true},
		{"signing key, account exists", "citizen", citizenIIN, true},
		{"no account", "citizen2", citizen2IIN, false},
	}
	var pw struct{ Account string }
	if code, _ := e.call("POST", "/api/v1/sessions", "", map[string]string{"iin": citizenIIN, "password": passwordOK}, &pw); code != 201 || pw.Account == "" {
		t.Fatalf("password login: %d %+v", code, pw)
	}
	for _, tt := range tests {
		var s struct{ Token, IIN, Method, Account string }
		if code, _ := e.call("POST", "/api/v1/sessions/signature", "", e.signedChallenge(tt.key), &s); code != 201 || s.IIN != tt.iin || s.Method != "signature" {
			t.Fatalf("%s: login %d %+v", tt.name, code, s)
		}
		var cur current
		if code, _ := e.call("GET", "/api/v1/sessions/current", s.Token, nil, &cur); code != 200 || cur.IIN != tt.iin {
			t.Fatalf("%s: current %d %+v", tt.name, code, cur)
		}
		switch {
		case tt.bound && (s.Account != pw.Account || cur.Account == nil || cur.Account.ID != pw.Account || cur.Account.Proof != "signature"):
			t.Errorf("%s: session %q / %+v, want bound to account %q", tt.name, s.Account, cur.Account, pw.Account)
		case !tt.bound && (s.Account != "" || cur.Account != nil):
			t.Errorf("%s: bound to %q / %+v without an account", tt.name, s.Account, cur.Account)
		}
	}
}
