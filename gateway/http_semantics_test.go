package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// send makes one request to the portal with a raw body and headers, and
// returns the status, the headers and the body.
func (e *env) send(method, path string, header map[string]string, body string) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

// TestHTTPSemantics is issue 14: each answer has the status, the problem
// code and the headers HTTP gives it, and the document's constraints hold
// at run time.
func TestHTTPSemantics(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	jsonCT := map[string]string{"Content-Type": "application/json"}
	bearer := map[string]string{"Authorization": "Bearer " + token}
	login := `{"iin":"` + citizenIIN + `","password":"` + passwordOK + `"}`
	cases := []struct {
		name         string
		method, path string
		header       map[string]string
		body         string
		status       int
		code         string
		headers      map[string]string // exact values
	}{
		{"malformed JSON", "POST", "/api/v1/sessions", jsonCT, `{"iin":"` + citizenIIN + `",`, 400, "request-malformed", nil},
		{"JSON of another shape", "POST", "/api/v1/sessions", jsonCT, `["` + citizenIIN + `"]`, 400, "request-malformed", nil},
		{"unknown field", "POST", "/api/v1/sessions", jsonCT, `{"iin":"` + citizenIIN + `","password":"x","admin":true}`, 400, "request-malformed", nil},
		{"unknown field of a code request", "POST", "/api/v1/accounts/codes", jsonCT, `{"iin":"` + citizenIIN + `","phone":"+77010000000"}`, 400, "request-malformed", nil},
		{"no body", "POST", "/api/v1/sessions", nil, "", 400, "request-malformed", nil},
		{"text/plain", "POST", "/api/v1/sessions", map[string]string{"Content-Type": "text/plain"}, login, 415, "media-unsupported", nil},
		{"a form", "POST", "/api/v1/sessions", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			"iin=" + citizenIIN + "&password=" + passwordOK, 415, "media-unsupported", nil},
		{"JSON where XML is signed", "POST", "/api/v1/sessions/signature", jsonCT, `{"document":"x"}`, 415, "media-unsupported", nil},
		{"a submission that is not multipart", "POST", "/api/v1/requests",
			map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + token}, `{}`, 415, "media-unsupported", nil},
		{"wrong method on sessions", "PUT", "/api/v1/sessions", jsonCT, login, 405, "method-not-allowed", map[string]string{"Allow": "DELETE, OPTIONS, POST"}},
		{"wrong method on a service", "DELETE", "/api/v1/services/job-seeker-registration", nil, "", 405, "method-not-allowed", map[string]string{"Allow": "GET, OPTIONS"}},
		{"wrong method on a request", "PATCH", "/api/v1/requests/some-id", bearer, "", 405, "method-not-allowed", map[string]string{"Allow": "GET, OPTIONS"}},
		{"wrong method on mark-read", "GET", "/api/v1/cabinet/messages/m1/read", bearer, "", 405, "method-not-allowed", map[string]string{"Allow": "OPTIONS, POST"}},
		{"wrong method on the requests", "PUT", "/api/v1/requests", bearer, "", 405, "method-not-allowed", map[string]string{"Allow": "GET, OPTIONS, POST"}},
		{"wrong method on healthz", "POST", "/healthz", nil, "", 405, "method-not-allowed", map[string]string{"Allow": "GET, OPTIONS"}},
		{"unknown path stays 404", "GET", "/api/v1/nothing-here", nil, "", 404, "not-found", nil},
		{"no token", "GET", "/api/v1/cabinet/messages", nil, "", 401, "authorization-refused",
			map[string]string{"WWW-Authenticate": `Bearer realm="egov-gateway"`}},
		{"a refused token", "GET", "/api/v1/requests", map[string]string{"Authorization": "Bearer not-a-session"}, "", 401, "authorization-refused",
			map[string]string{"WWW-Authenticate": `Bearer realm="egov-gateway", error="invalid_token"`}},
		{"a wrong password", "POST", "/api/v1/sessions", jsonCT, `{"iin":"` + citizenIIN + `","password":"Wrong-parol-1"}`, 401, "authorization-refused",
			map[string]string{"WWW-Authenticate": `Bearer realm="egov-gateway"`}},
		{"cabinet limit over 100", "GET", "/api/v1/cabinet/messages?limit=1000", bearer, "", 400, "request-malformed", nil},
		{"cabinet limit 0", "GET", "/api/v1/cabinet/messages?limit=0", bearer, "", 400, "request-malformed", nil},
		{"cabinet limit not a number", "GET", "/api/v1/cabinet/messages?limit=ten", bearer, "", 400, "request-malformed", nil},
		{"cabinet unread not a boolean", "GET", "/api/v1/cabinet/messages?unread=yes", bearer, "", 400, "request-malformed", nil},
		{"requests limit over 100", "GET", "/api/v1/requests?limit=1000", bearer, "", 400, "request-malformed", nil},
		{"skeleton without region", "GET", "/api/v1/services/job-seeker-registration/skeleton", nil, "", 400, "request-malformed", nil},
		{"skeleton with an empty region", "GET", "/api/v1/services/job-seeker-registration/skeleton?region=", nil, "", 400, "request-malformed", nil},
		{"cabinet limit 100 is allowed", "GET", "/api/v1/cabinet/messages?limit=100&unread=false", bearer, "", 200, "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, h, body := e.send(c.method, c.path, c.header, c.body)
			if status != c.status {
				t.Fatalf("%s %s: %d %s, want %d %s", c.method, c.path, status, body, c.status, c.code)
			}
			if c.code != "" {
				var p problem
				if err := json.Unmarshal(body, &p); err != nil || p.Code != c.code || p.Status != c.status {
					t.Errorf("problem %s, want code %s", body, c.code)
				}
				if ct := h.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type %q", ct)
				}
				if len(p.Messages) != 3 || p.Messages["ru"] == "" || p.Messages["kk"] == "" || p.Messages["en"] == "" {
					t.Errorf("messages %v, want ru, kk and en", p.Messages)
				}
				if h.Get("Cache-Control") != "no-store" {
					t.Errorf("a refusal with Cache-Control %q", h.Get("Cache-Control"))
				}
			}
			for k, want := range c.headers {
				if got := h.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestLanguageNegotiation: Accept-Language with q-values picks the text,
// and every answer that depends on it says so.
func TestLanguageNegotiation(t *testing.T) {
	e := newEnv(t)
	names := map[string]string{"ru": "Регистрация лиц, ищущих работу", "kk": "Жұмыс іздеп жүрген адамдарды тіркеу", "en": "Registration of job seekers"}
	cases := []struct{ accept, want string }{
		{"en;q=0.9, kk;q=0.95", "kk"},
		{"kk;q=0.5, en", "en"},
		{"", "ru"},
		{"de-DE, fr;q=0.8", "ru"},
		{"fr, en-GB;q=0.3", "en"},
		{"kk-KZ", "kk"},
		{"kz", "kk"},
		{"ru-RU, ru;q=0.9, en-US;q=0.8", "ru"},
		{"kk;q=0, en;q=0.2", "en"},
		{"*;q=0.1, en;q=0.05", "ru"},
		{";;;garbage", "ru"},
	}
	for _, c := range cases {
		t.Run(c.accept, func(t *testing.T) {
			h := map[string]string{"Accept-Language": c.accept}
			// A catalogue entry and a refusal: both carry text.
			status, hdr, body := e.send("GET", "/api/v1/services/job-seeker-registration", h, "")
			var svc struct{ Name string }
			if status != 200 || json.Unmarshal(body, &svc) != nil || svc.Name != names[c.want] {
				t.Errorf("service: %d %q, want the %s name", status, svc.Name, c.want)
			}
			checkLanguageHeaders(t, hdr, c.want)
			status, hdr, body = e.send("GET", "/api/v1/services/no-such-service", h, "")
			var p problem
			if status != 404 || json.Unmarshal(body, &p) != nil || p.Title != p.Messages[c.want] {
				t.Errorf("refusal: %d title %q, want the %s message %q", status, p.Title, c.want, p.Messages[c.want])
			}
			checkLanguageHeaders(t, hdr, c.want)
		})
	}
}

func checkLanguageHeaders(t *testing.T, h http.Header, want string) {
	t.Helper()
	if got := h.Get("Content-Language"); got != want {
		t.Errorf("Content-Language %q, want %q", got, want)
	}
	if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Accept-Language") {
		t.Errorf("Vary %q, want Accept-Language in it", h.Values("Vary"))
	}
}

// TestPersonalAnswersAreNotStored: answers with tokens or personal data
// forbid every cache; the public catalogue may be cached.
func TestPersonalAnswersAreNotStored(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	jsonCT := map[string]string{"Content-Type": "application/json"}
	status, h, _ := e.send("POST", "/api/v1/sessions", jsonCT, `{"iin":"`+citizenIIN+`","password":"`+passwordOK+`"}`)
	if status != 201 || h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" {
		t.Errorf("login: %d with Cache-Control %q, Pragma %q: the token may be stored", status, h.Get("Cache-Control"), h.Get("Pragma"))
	}
	bearer := map[string]string{"Authorization": "Bearer " + e.login(citizenIIN)}
	cases := []struct {
		method, path string
		header       map[string]string
		status       int
		cache        string
	}{
		{"GET", "/api/v1/sessions/current", bearer, 200, "no-store"},
		{"GET", "/api/v1/requests", bearer, 200, "no-store"},
		{"GET", "/api/v1/requests/no-such-request", bearer, 404, "no-store"},
		{"GET", "/api/v1/cabinet/messages", bearer, 200, "no-store"},
		{"GET", "/api/v1/cabinet/messages/no-such-message", bearer, 404, "no-store"},
		{"GET", "/api/v1/cabinet/messages/no-such-message/document", bearer, 404, "no-store"},
		{"GET", "/api/v1/auth/challenge", nil, 200, "no-store"},
		{"GET", "/api/v1/services/job-seeker-registration/skeleton?region=east-kazakhstan", nil, 200, "no-store"},
		{"GET", "/healthz", nil, 200, "no-store"},
		{"GET", "/api/v1/services", nil, 200, "public, max-age=300"},
		{"GET", "/api/v1/services/job-seeker-registration", nil, 200, "public, max-age=300"},
		{"GET", "/api/v1/services/no-such-service", nil, 404, "no-store"},
		{"GET", "/api/v1/openapi.yaml", nil, 200, "public, max-age=300"},
	}
	for _, c := range cases {
		status, h, body := e.send(c.method, c.path, c.header, "")
		if status != c.status || h.Get("Cache-Control") != c.cache {
			t.Errorf("%s %s: %d with Cache-Control %q, want %d with %q\n%s", c.method, c.path, status, h.Get("Cache-Control"), c.status, c.cache, trim(body))
		}
	}
}

// TestTooManyAttemptsSayWhenToRetry: a 429 carries Retry-After.
func TestTooManyAttemptsSayWhenToRetry(t *testing.T) {
	e := newEnv(t)
	jsonCT := map[string]string{"Content-Type": "application/json"}
	for i := 0; i < 40; i++ {
		status, h, body := e.send("POST", "/api/v1/sessions", jsonCT, `{"iin":"`+citizenIIN+`","password":"Wrong-parol-1"}`)
		if status != http.StatusTooManyRequests {
			continue
		}
		if s, err := strconv.Atoi(h.Get("Retry-After")); err != nil || s < 1 {
			t.Fatalf("429 with Retry-After %q\n%s", h.Get("Retry-After"), body)
		}
		return
	}
	t.Fatal("40 failed logins from one address were never rate-limited")
}
