package gateway_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"egov"
	"egov/document"
	"egov/gateway"
)

func TestAuthorisationRefusals(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	var p problem
	tests := []struct {
		name string
		body map[string]string
		code int
		want string
	}{
		{"invalid IIN at registration", map[string]string{"iin": "123456789011", "password": passwordOK, "phone": "+77010000000"}, 400, "iin-invalid"},
		{"weak password", map[string]string{"iin": citizen2IIN, "password": "short1", "phone": "+77010000000"}, 400, "password-weak"},
		{"bad phone", map[string]string{"iin": citizen2IIN, "password": passwordOK, "phone": "8-701"}, 400, "phone-invalid"},
		{"existing account", map[string]string{"iin": citizenIIN, "password": passwordOK, "signedChallenge": string(e.signedChallenge("citizen"))}, 409, "account-exists"},
		{"no proof of identity", map[string]string{"iin": citizen2IIN, "password": passwordOK, "phone": "+77010000000"}, 403, "identity-not-proven"},
	}
	for _, tt := range tests {
		if code, _ := e.call("POST", "/api/v1/accounts", "", tt.body, &p); code != tt.code || p.Code != tt.want {
			t.Errorf("%s: %d %s, want %d %s", tt.name, code, p.Code, tt.code, tt.want)
		}
	}
	// Wrong password, unknown IIN, malformed IIN: one and the same refusal.
	for _, body := range []map[string]string{
		{"iin": citizenIIN, "password": "Wrong-password-1"},
		{"iin": citizen2IIN, "password": passwordOK},
		{"iin": "not-an-iin", "password": passwordOK},
	} {
		code, _ := e.call("POST", "/api/v1/sessions", "", body, &p)
		if code != 401 || p.Code != "authorization-refused" || p.Messages["kk"] == "" {
			t.Errorf("login %v: %d %+v", body, code, p)
		}
	}
	// Failures delay the next attempt, not lock the account: inside the
	// delay even the right password is refused, as 429 with Retry-After
	// (timing only, the same for every IIN); after it, it works.
	for i := 0; i < 5; i++ {
		e.call("POST", "/api/v1/sessions", "", map[string]string{"iin": citizenIIN, "password": "Wrong-password-1"}, nil)
	}
	if code, h := e.call("POST", "/api/v1/sessions", "", map[string]string{"iin": citizenIIN, "password": passwordOK}, &p); code != 429 || p.Code != "rate-limited" || h.Get("Retry-After") != "1" {
		t.Fatalf("the right password inside the delay: %d %s, Retry-After %q", code, p.Code, h.Get("Retry-After"))
	}
	e.clock.Add(time.Second)
	e.login(citizenIIN)
	// Session tokens: missing, forged, after logout.
	for _, token := range []string{"", "forged", strings.Repeat("A", 43)} {
		if code, _ := e.call("GET", "/api/v1/requests", token, nil, &p); code != 401 || p.Code != "authorization-refused" {
			t.Errorf("token %q: %d %s", token, code, p.Code)
		}
	}
}

func TestRateLimitIgnoresForwardedHeaders(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	limited := 0
	for i := 0; i < 25; i++ {
		// A malformed IIN, so that only the address's limit can answer 429
		// (a valid one would meet its own login delay first).
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/sessions", strings.NewReader(`{"iin":"not-an-iin","password":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		// A forged client address must not buy more attempts.
		req.Header.Set("X-Forwarded-For", "10.0.0."+strings.Repeat("1", 1+i%2))
		req.Header.Set("X-Real-IP", "10.1.1.1")
		var p problem
		code, h := e.do(req, &p)
		switch {
		case i < 20 && code != 401:
			t.Fatalf("attempt %d of the minute's 20: %d %s", i+1, code, p.Code)
		case code == 429:
			if p.Code != "rate-limited" || h.Get("Retry-After") == "" {
				t.Fatalf("attempt %d: 429 %s without Retry-After", i+1, p.Code)
			}
			limited++
		}
	}
	// 20 a minute is one more every 3 s: a slow machine earns the odd
	// attempt back while the test runs, forged headers none.
	if earned := int(time.Since(start)/(3*time.Second)) + 1; limited < 5-earned {
		t.Fatalf("25 attempts a minute from one address: %d refused, want at least %d", limited, 5-earned)
	}
}

// TestSignatureRefusalsThroughHTTP posts every refused document of the
// signing corpus (fixtures/signing/expected.tsv) as a submission: each must
// come back as a problem with the corpus's code.
func TestSignatureRefusalsThroughHTTP(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	table, err := os.ReadFile("../fixtures/signing/expected.tsv")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(table)), "\n") {
		cols := strings.Split(line, "\t")
		if strings.HasPrefix(line, "#") || len(cols) < 2 || cols[1] == "-" || cols[1] == "iin-mismatch" {
			continue // valid signatures go on to later checks
		}
		doc, err := os.ReadFile(filepath.Join("../fixtures/signing", cols[0]))
		if err != nil {
			t.Fatal(err)
		}
		var p problem
		code := e.submit(token, doc, nil, &p)
		if p.Code != cols[1] || code < 400 || p.Title == "" {
			t.Errorf("%s: %d %s, want %s", cols[0], code, p.Code, cols[1])
		}
		n++
	}
	if n < 30 {
		t.Fatalf("only %d refused documents in the corpus", n)
	}
}

func TestSubmissionRefusals(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	e.register(citizen2IIN)
	token := e.login(citizenIIN)
	token2 := e.login(citizen2IIN)
	now := e.clock.Now()
	otherScan := file{"other.pdf", "application/pdf", []byte("%PDF another file")}
	// Declared and signed as a PDF, but a page of HTML; and a PNG signed as a PDF.
	htmlAsPDF := file{"udostoverenie.pdf", "application/pdf", []byte("<html><body><script>alert(1)</script></body></html>")}
	pngAsPDF := file{"udostoverenie.pdf", "application/pdf", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")}
	pdfSentAsHTML := file{idScan.name, "text/html", idScan.data}
	tests := []struct {
		name   string
		token  string
		key    string
		iin    string
		issued time.Time
		files  []file // declared in the document
		send   []file // sent as parts
		mutate func(*document.Request)
		want   string
		status int
	}{
		{"session of another citizen", token2, "citizen", citizenIIN, now, []file{idScan}, []file{idScan}, nil, "iin-mismatch", 403},
		{"request IIN not the certificate's", token2, "citizen", citizen2IIN, now, []file{idScan}, []file{idScan}, nil, "iin-mismatch", 403},
		{"stale issue time", token, "citizen", citizenIIN, now.Add(-time.Hour), []file{idScan}, []file{idScan}, nil, "request-stale", 422},
		{"declared attachment missing", token, "citizen", citizenIIN, now, []file{idScan}, nil, nil, "attachment-missing", 422},
		{"attachment bytes differ", token, "citizen", citizenIIN, now, []file{idScan}, []file{{idScan.name, idScan.mime, []byte("%PDF changed")}}, nil, "attachment-mismatch", 422},
		{"undeclared attachment", token, "citizen", citizenIIN, now, []file{idScan}, []file{idScan, otherScan}, nil, "attachment-undeclared", 422},
		{"HTML signed as a PDF", token, "citizen", citizenIIN, now, []file{htmlAsPDF}, []file{htmlAsPDF}, nil, "attachment-type-mismatch", 422},
		{"PNG signed as a PDF", token, "citizen", citizenIIN, now, []file{pngAsPDF}, []file{pngAsPDF}, nil, "attachment-type-mismatch", 422},
		{"PDF sent as a part of type text/html", token, "citizen", citizenIIN, now, []file{idScan}, []file{pdfSentAsHTML}, nil, "attachment-type-mismatch", 422},
		{"required document absent", token, "citizen", citizenIIN, now, nil, nil, nil, "attachment-missing", 422},
		{"unknown service", token, "citizen", citizenIIN, now, []file{idScan}, []file{idScan},
			func(r *document.Request) { r.ServiceCode = "space-travel" }, "service-unknown", 404},
		{"office-only service", token, "citizen", citizenIIN, now, []file{idScan}, []file{idScan},
			func(r *document.Request) { r.ServiceCode = "child-benefit" }, "service-not-on-portal", 422},
		{"region without portal regulation", token, "citizen", citizenIIN, now, []file{idScan}, []file{idScan},
			func(r *document.Request) {
				r.ServiceCode, r.Form = "employment-referral", map[string]string{"measure": "public-works"}
			}, "region-not-served", 422},
		{"form value outside its list", token, "citizen", citizenIIN, now, []file{idScan}, []file{idScan},
			func(r *document.Request) { r.Form["education"] = "astronaut" }, "form-invalid", 422},
		{"unknown form field", token, "citizen", citizenIIN, now, []file{idScan}, []file{idScan},
			func(r *document.Request) { r.Form["salary"] = "1000000" }, "form-invalid", 422},
		{"a citizen's request that claims a counter and a representative", token, "citizen", citizenIIN, now, []file{idScan}, []file{idScan},
			func(r *document.Request) {
				r.Filing = &document.Filing{Channel: document.ChannelStateCorporation, Office: "krg-con-01", OperatorIIN: "760903400210",
					Representative: &document.Representative{IIN: "800515400122", Surname: "С", GivenName: "Г",
						PowerOfAttorney: document.PowerOfAttorney{Number: "ENIS-2026-ALM-0040217", Notary: "N", Until: now.AddDate(1, 0, 0)}}}
			}, "form-invalid", 422},
		{"expired identity document", token, "citizen", citizenIIN, now, []file{idScan}, []file{idScan},
			func(r *document.Request) {
				expired := time.Date(2020, 1, 1, 0, 0, 0, 0, egov.Almaty)
				r.Attachments[0].Expires = &expired
			}, "attachment-rejected", 422},
	}
	for _, tt := range tests {
		doc, _ := requestDoc(t, tt.key, tt.iin, tt.issued, tt.files, tt.mutate)
		var p problem
		code := e.submit(tt.token, doc, tt.send, &p)
		if code != tt.status || p.Code != tt.want {
			t.Errorf("%s: %d %s, want %d %s", tt.name, code, p.Code, tt.status, tt.want)
		}
	}
	// Nothing refused reached the citizen's requests.
	var list struct{ Requests []any }
	e.call("GET", "/api/v1/requests", token, nil, &list)
	if len(list.Requests) != 0 {
		t.Fatalf("refused submissions were stored: %d", len(list.Requests))
	}
}

func TestReplayAnswers409WithTheFirstRequest(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	doc, id := requestDoc(t, "citizen", citizenIIN, e.clock.Now(), []file{idScan}, nil)
	if code := e.submit(token, doc, []file{idScan}, nil); code != http.StatusAccepted {
		t.Fatalf("first: %d", code)
	}
	var p problem
	if code := e.submit(token, doc, []file{idScan}, &p); code != http.StatusConflict || p.Code != "request-replayed" || p.Links["first"] != "/api/v1/requests/"+id {
		t.Fatalf("replay: %d %+v", code, p)
	}
}

func TestBusOutageDelaysButLosesNothing(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	e.switch_.SetDown(true)
	doc, id := requestDoc(t, "citizen", citizenIIN, e.clock.Now(), []file{idScan}, nil)
	if code := e.submit(token, doc, []file{idScan}, nil); code != http.StatusAccepted {
		t.Fatalf("submit while the bus is down: %d", code)
	}
	var r requestView
	for i := 0; i < 200 && r.LastError == ""; i++ {
		e.call("GET", "/api/v1/requests/"+id, token, nil, &r)
		time.Sleep(10 * time.Millisecond)
	}
	if r.State != gateway.StateWaitingForRelay || r.LastError == "" {
		t.Fatalf("during the outage: %+v", r)
	}
	e.switch_.SetDown(false)
	e.waitState(token, id, gateway.StateRelayed)
}

func TestCitizensSeeOnlyTheirOwn(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	e.register(citizen2IIN)
	token := e.login(citizenIIN)
	token2 := e.login(citizen2IIN)
	var ids []string
	for i := 0; i < 3; i++ {
		doc, id := requestDoc(t, "citizen", citizenIIN, e.clock.Now(), []file{idScan}, nil)
		if code := e.submit(token, doc, []file{idScan}, nil); code != http.StatusAccepted {
			t.Fatalf("submit %d: %d", i, code)
		}
		ids = append(ids, id)
	}
	var p problem
	if code, _ := e.call("GET", "/api/v1/requests/"+ids[0], token2, nil, &p); code != 404 || p.Code != "not-found" {
		t.Fatalf("another citizen's request: %d %s", code, p.Code)
	}
	var page cabinetPage
	e.call("GET", "/api/v1/cabinet/messages", token, nil, &page)
	msgID := page.Messages[0].ID
	for _, path := range []string{"/api/v1/cabinet/messages/" + msgID, "/api/v1/cabinet/messages/" + msgID + "/document"} {
		if code, _ := e.call("GET", path, token2, nil, &p); code != 404 {
			t.Fatalf("%s for another citizen: %d", path, code)
		}
	}
	if code, _ := e.call("POST", "/api/v1/cabinet/messages/"+msgID+"/read", token2, nil, &p); code != 404 {
		t.Fatalf("marking another citizen's message: %d", code)
	}
	e.call("GET", "/api/v1/cabinet/messages", token2, nil, &page)
	if len(page.Messages) != 0 {
		t.Fatalf("citizen 2 sees %d messages", len(page.Messages))
	}
	// Pagination: one per page, newest first, each once.
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		e.call("GET", "/api/v1/cabinet/messages?limit=1&cursor="+cursor, token, nil, &page)
		for _, m := range page.Messages {
			if seen[m.ID] {
				t.Fatalf("message %s on two pages", m.ID)
			}
			seen[m.ID] = true
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(seen) != 3 || !seen["accepted-"+ids[2]] {
		t.Fatalf("pages held %v", seen)
	}
}

func TestLoginBySignature(t *testing.T) {
	e := newEnv(t)
	var ch struct {
		Nonce    string `json:"nonce"`
		Document string `json:"document"`
	}
	e.call("GET", "/api/v1/auth/challenge", "", nil, &ch)
	signed, err := signer(t, "citizen-auth").Sign([]byte(ch.Document))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Token, IIN, Method string
	}
	if code, _ := e.call("POST", "/api/v1/sessions/signature", "", signed, &s); code != http.StatusCreated || s.IIN != citizenIIN || s.Method != "signature" {
		t.Fatalf("login by signature: %d %+v", code, s)
	}
	if code, _ := e.call("GET", "/api/v1/requests", s.Token, nil, nil); code != 200 {
		t.Fatalf("session from signature: %d", code)
	}
	var p problem
	if code, _ := e.call("POST", "/api/v1/sessions/signature", "", signed, &p); code != 401 || p.Code != "authorization-refused" {
		t.Fatalf("challenge used twice: %d %s", code, p.Code)
	}
}

func TestCatalogueAndSkeleton(t *testing.T) {
	e := newEnv(t)
	var list struct {
		Services []struct {
			Code, Name string
			Portal     bool
		}
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/services?portal=true", nil)
	req.Header.Set("Accept-Language", "en")
	e.do(req, &list)
	if len(list.Services) != 4 || list.Services[0].Name != "Registration of job seekers" {
		t.Fatalf("portal services %+v", list.Services)
	}
	var skeleton string
	code, _ := e.call("GET", "/api/v1/services/job-seeker-registration/skeleton?region=aktobe", "", nil, &skeleton)
	if code != 200 || !strings.Contains(skeleton, `<Field name="education">secondary|vocational|higher</Field>`) || !strings.Contains(skeleton, `kind="identity-document"`) {
		t.Fatalf("skeleton %d:\n%s", code, skeleton)
	}
	var p problem
	if code, _ := e.call("GET", "/api/v1/services/child-benefit/skeleton?region=aktobe", "", nil, &p); code != 422 || p.Code != "service-not-on-portal" {
		t.Fatalf("skeleton of an office service: %d %s", code, p.Code)
	}
	var hdr http.Header
	code, hdr = e.call("GET", "/api/v1/no-such", "", nil, &p)
	if code != 404 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/problem+json") || hdr.Get("X-Request-Id") == "" || hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("unknown path: %d %v", code, hdr)
	}
	var health struct {
		Status string
		Checks map[string]struct{ Status string }
	}
	if code, _ := e.call("GET", "/healthz", "", nil, &health); code != 200 || health.Status != "ready" || health.Checks["redis"].Status != "ok" {
		t.Fatalf("health %d %+v", code, health)
	}
}

// TestOverloadIsShedNotQueuedForever holds the only submission slot with a
// slow upload; the next submission is answered 503 service-unavailable.
// A submission in progress holds a slot and its declared bytes; one more
// finding no slot, or no room for its bytes, is shed with 503 instead of
// waiting for ever or taking the memory.
func TestOverloadIsShedNotQueuedForever(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	e.register(citizen2IIN)
	token2 := e.login(citizen2IIN)
	doc, _ := requestDoc(t, "citizen", citizenIIN, e.clock.Now(), []file{idScan}, nil)
	doc2, _ := requestDoc(t, "citizen2", citizen2IIN, e.clock.Now(), []file{idScan}, nil)
	const budget = 1 << 20
	for _, tt := range []struct {
		name string
		opt  gateway.HTTPOptions
		// sent is what the slow upload of the first citizen has sent when
		// the others come; it declares almost the whole budget.
		sent         int
		first, other int // statuses: the first citizen again, another citizen
	}{
		{"no slot", gateway.HTTPOptions{MaxSubmissions: 1, SubmissionQueueWait: 100 * time.Millisecond},
			5, http.StatusServiceUnavailable, http.StatusServiceUnavailable},
		{"declared bytes hold nothing", gateway.HTTPOptions{MaxSubmissionBytes: budget, SubmissionQueueWait: 100 * time.Millisecond},
			5, http.StatusAccepted, http.StatusAccepted},
		{"received bytes fill the budget", gateway.HTTPOptions{MaxSubmissionBytes: budget, CitizenShare: budget, SubmissionQueueWait: 100 * time.Millisecond},
			budget - 1<<10, http.StatusTooManyRequests, http.StatusServiceUnavailable},
		{"a citizen's share", gateway.HTTPOptions{MaxSubmissionBytes: budget, CitizenShare: budget / 4, SubmissionQueueWait: 100 * time.Millisecond},
			budget/4 - 1<<10, http.StatusTooManyRequests, http.StatusAccepted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(e.app.Handler(tt.opt))
			defer srv.Close()

			pr, pw := io.Pipe()
			slow, _ := http.NewRequest("POST", srv.URL+"/api/v1/requests", pr)
			slow.ContentLength = budget - 512
			slow.Header.Set("Content-Type", "multipart/form-data; boundary=x")
			slow.Header.Set("Authorization", "Bearer "+token)
			done := make(chan struct{})
			go func() {
				if resp, err := http.DefaultClient.Do(slow); err == nil {
					resp.Body.Close()
				}
				close(done)
			}()
			defer func() { pw.CloseWithError(io.ErrUnexpectedEOF); <-done }()
			head := "--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n\r\n"
			if tt.sent <= 5 {
				head = "--x\r\n"
			}
			pw.Write([]byte(head))
			if rest := tt.sent - len(head); rest > 0 {
				pw.Write(bytes.Repeat([]byte("%"), rest)) // the handler is now holding these bytes
			}
			time.Sleep(200 * time.Millisecond)

			portal := e.srv
			e.srv = srv // submit through the server under test
			defer func() { e.srv = portal }()
			for _, who := range []struct {
				token string
				doc   []byte
				want  int
			}{{token, doc, tt.first}, {token2, doc2, tt.other}} {
				var p problem
				code := e.submit(who.token, who.doc, []file{idScan}, &p)
				if code == http.StatusConflict {
					code = http.StatusAccepted // accepted in an earlier case
				}
				wantCode := map[int]string{http.StatusServiceUnavailable: "service-unavailable", http.StatusTooManyRequests: "rate-limited"}[who.want]
				if code != who.want || (code != http.StatusAccepted && p.Code != wantCode) {
					t.Fatalf("submission while the slow upload holds %d bytes: %d %s, want %d %s", tt.sent, code, p.Code, who.want, wantCode)
				}
			}
		})
	}
	// Once the slow uploads are gone, everyone gets in again.
	if code := e.submit(token, doc, []file{idScan}, nil); code != http.StatusAccepted && code != http.StatusConflict {
		t.Fatalf("after the room was freed: %d", code)
	}
}

// A service the portal does not provide still has its page: per region,
// the channels the regulation lists, their steps and terms, where to go
// and what to bring, in the asked language.
func TestOffPortalServiceSaysWhereToGo(t *testing.T) {
	e := newEnv(t)
	var s struct {
		Label, Name string
		Portal      bool
		Channels    []string
		Regions     map[string]struct {
			Seed     string
			Channels map[string]struct {
				Steps          []struct{ Role, Action string }
				WorkingMinutes int
				Where          string
				Bring          []string
			}
		}
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/services/child-benefit", nil)
	req.Header.Set("Accept-Language", "kk")
	if code, _ := e.do(req, &s); code != 200 {
		t.Fatalf("child-benefit: %d", code)
	}
	kar := s.Regions["karaganda"]
	gk := kar.Channels["state-corporation"]
	if s.Label != "S6" || s.Portal || kar.Seed != "003" || len(kar.Channels) != 3 || gk.Where == "" || len(gk.Bring) == 0 || len(gk.Steps) == 0 {
		t.Fatalf("S6 in Karaganda: %+v", s)
	}
	// Kazakh asked, Kazakh given: the text carries a letter only Kazakh has.
	if !strings.ContainsAny(gk.Where+gk.Steps[0].Action, "әғқңөұүһі") {
		t.Errorf("where and the first step are not in Kazakh: %q, %q", gk.Where, gk.Steps[0].Action)
	}
	if want := 6*8*60 + 103; gk.WorkingMinutes != want {
		t.Errorf("the counter's term in Karaganda: %d working minutes, want %d (6 wd + 1 h 43 min)", gk.WorkingMinutes, want)
	}
}
