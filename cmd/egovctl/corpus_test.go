package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"egov/document"
	"egov/internal/corpus"
	"egov/internal/redistest"
	"egov/signing"
	"egov/signing/pki"
)

// go test ./cmd/egovctl -run TestCuratedCorpus -update
// records fixtures/envelopes again from the scenarios below.
var updateCorpus = flag.Bool("update", false, "record fixtures/envelopes again")

const envelopes = "../../fixtures/envelopes"

// upStack runs `egovctl up` in process on a real Redis, with the committed
// test PKI as its authority, and returns the portal and bus base URLs and
// its data directory.
func upStack(t *testing.T, record string, extra ...string) (portal, bus, data string) {
	t.Helper()
	r := redistest.New(t)
	data = t.TempDir()
	if _, err := pki.Clone("../../fixtures/pki", filepath.Join(data, "pki")); err != nil {
		t.Fatal(err)
	}
	p, b, o := freeAddr(t), freeAddr(t), freeAddr(t)
	args := []string{"up", "--data", data, "--listen", p, "--bus-listen", b, "--ocsp-listen", o, "--sms-listen", freeAddr(t), "--metrics-listen", freeAddr(t), "--counter-listen", freeAddr(t), "--centre-listen", freeAddr(t),
		"--redis", r.URL, "--key-prefix", r.Prefix,
		"--routing", "../../fixtures/shep/routing.json", "--persons", "../../fixtures/gbdfl/persons.json"}
	if record != "" {
		args = append(args, "--record", record)
	}
	args = append(args, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan int)
	go func() { done <- run(ctx, args, &out, &out) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("up exited %d:\n%s", code, out.String())
		}
	})
	waitUp(t, p, &out)
	return "http://" + p, "http://" + b, data
}

// TestCuratedCorpus replays fixtures/envelopes, adapted (--data), against
// a stack given the committed PKI, twice: the second run meets the
// accounts and failed logins the first one left, and must match the
// recording as exactly. With -update it records the corpus first. (The
// README's replay against a stack with a PKI of its own, after the demo:
// TestCuratedCorpusAdaptedToAFreshStackAfterTheDemo.)
func TestCuratedCorpus(t *testing.T) {
	if *updateCorpus {
		_ = os.RemoveAll(envelopes)
		abs, _ := filepath.Abs(envelopes)
		portal, bus, data := upStack(t, abs)
		recordScenarios(t, portal, bus, data)
		return
	}
	c, err := corpus.Load(envelopes)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Entries) < 40 {
		t.Fatalf("the curated corpus has %d messages", len(c.Entries))
	}
	// Two runs in a minute need more than the 20 attempts a minute of one
	// address that `up` allows by default.
	portal, bus, data := upStack(t, "", "--attempts-per-minute", "100")
	for run1, concurrency := range []string{"4", "1"} {
		var out bytes.Buffer
		args := []string{"replay", envelopes, "--target", portal, "--bus", bus, "--data", data, "--junit", filepath.Join(t.TempDir(), "replay.xml"), "--concurrency", concurrency}
		if code := run(context.Background(), args, &out, &out); code != 0 {
			t.Fatalf("run %d: replay differs from the recording (exit %d):\n%s", run1+1, code, out.String())
		}
		if !strings.Contains(out.String(), "→") {
			t.Fatalf("run %d mapped no identity:\n%s", run1+1, out.String())
		}
	}
}

// recorder helpers

type caller struct {
	t              *testing.T
	portal, bus    string
	token, token2  string
	citizen, other *signing.Signer
}

func (c *caller) do(method, path, token, ct string, body []byte) (int, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest(method, path, bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func (c *caller) portalJSON(method, path, token string, body any) (int, []byte) {
	var data []byte
	if body != nil {
		data, _ = json.Marshal(body)
	}
	return c.do(method, c.portal+"/api/v1"+path, token, "application/json", data)
}

var cardScan = []byte("%PDF-1.7 identity card scan (curated corpus)")

type doc struct {
	service, region string
	form            map[string]string
	attach          bool
	expires         string
	iin             string
	issued          time.Time
}

func (c *caller) signedRequest(d doc, key *signing.Signer) []byte {
	c.t.Helper()
	if d.iin == "" {
		d.iin = "791028302728"
	}
	if d.issued.IsZero() {
		d.issued = time.Now()
	}
	if d.expires == "" {
		d.expires = "2031-01-01"
	}
	req := &document.Request{RequestID: uuid.NewString(), ServiceCode: d.service, Region: d.region, IssuedAt: d.issued,
		Applicant: document.Applicant{IIN: d.iin, Surname: "ЖАҚСЫЛЫҚОВ", GivenName: "АЙДОС", Phone: "+77010000000"}, Form: d.form}
	if d.attach {
		sum := sha256.Sum256(cardScan)
		expires, err := time.Parse(time.DateOnly, d.expires)
		if err != nil {
			c.t.Fatal(err)
		}
		req.Attachments = []document.AttachmentHeader{{Kind: "identity-document", FileName: "id.pdf", MIMEType: "application/pdf",
			Size: int64(len(cardScan)), SHA256: hex.EncodeToString(sum[:]), Expires: &expires}}
	}
	signed, err := key.Sign(req.Document())
	if err != nil {
		c.t.Fatal(err)
	}
	return signed
}

// signedChallenge fetches a registration challenge and signs it with key.
func (c *caller) signedChallenge(key *signing.Signer) string {
	c.t.Helper()
	_, data := c.portalJSON("GET", "/auth/challenge", "", nil)
	var ch struct{ Document string }
	if err := json.Unmarshal(data, &ch); err != nil {
		c.t.Fatal(err)
	}
	signed, err := key.Sign([]byte(ch.Document))
	if err != nil {
		c.t.Fatal(err)
	}
	return string(signed)
}

// submit posts a submission; files are sent as attachments.
func (c *caller) submit(token string, request []byte, files map[string][]byte) (int, []byte) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="request"; filename="request.xml"`)
	h.Set("Content-Type", "application/xml")
	w, _ := mw.CreatePart(h)
	w.Write(request)
	for name, data := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, name))
		h.Set("Content-Type", "application/pdf")
		w, _ := mw.CreatePart(h)
		w.Write(data)
	}
	mw.Close()
	return c.do("POST", c.portal+"/api/v1/requests", token, mw.FormDataContentType(), body.Bytes())
}

func fixtureFile(t *testing.T, name string) []byte {
	data, err := os.ReadFile(filepath.Join("../../fixtures/signing", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func (c *caller) envelope(path, body string) {
	c.do("POST", c.bus+path, "", "text/xml; charset=utf-8", []byte(body))
}

// newcomer is the citizen whose account the curated corpus opens and logs
// into by password: someone no register knows, since registration asks
// none. A replay adapted to its target (--data) gives him a fresh IIN every
// time. The citizen who submits, 791028302728, opens his session by
// signature instead: that works whatever account or password the target
// holds for him (the demo registers him), and the registers know him.
const newcomerIIN = "880714300102"

func recordScenarios(t *testing.T, portal, bus, data string) {
	citizen, _ := signing.LoadSigner("../../fixtures/pki/keys/citizen.p12", "Qwerty12")
	citizenAuth, _ := signing.LoadSigner("../../fixtures/pki/keys/citizen-auth.p12", "Qwerty12")
	other, _ := signing.LoadSigner("../../fixtures/pki/keys/citizen2.p12", "Qwerty12")
	authority, err := pki.Open(filepath.Join(data, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	iss, err := authority.Issue(pki.IssueOptions{IIN: newcomerIIN, Name: "ӘЛІМОВ НҰРЖАН ҚАЙРАТҰЛЫ", Kind: pki.KindAuth})
	if err != nil {
		t.Fatal(err)
	}
	newcomer := &signing.Signer{Key: iss.Key, Certificate: iss.Certificate}
	c := &caller{t: t, portal: portal, bus: bus, citizen: citizen, other: other}
	pw := "Samal-2026-parol"
	c.portalJSON("POST", "/accounts", "", map[string]string{"iin": newcomerIIN, "password": pw, "signedChallenge": c.signedChallenge(newcomer)})
	c.portalJSON("POST", "/accounts", "", map[string]string{"iin": newcomerIIN, "password": pw, "signedChallenge": c.signedChallenge(newcomer)}) // account-exists
	c.portalJSON("POST", "/accounts", "", map[string]string{"iin": "900101300811", "password": "short1", "phone": "+77010000000"})
	c.portalJSON("POST", "/accounts", "", map[string]string{"iin": "123456789011", "password": pw, "phone": "+77010000000"})
	c.portalJSON("POST", "/accounts", "", map[string]string{"iin": "900101300811", "password": pw, "phone": "8-701"})
	c.portalJSON("POST", "/accounts", "", map[string]string{"iin": "900101300811", "password": pw, "phone": "+77010000000"})                       // identity-not-proven
	c.portalJSON("POST", "/accounts", "", map[string]string{"iin": "900101300811", "password": pw, "signedChallenge": c.signedChallenge(citizen)}) // another IIN's signature: identity-not-proven
	c.portalJSON("POST", "/accounts", "", map[string]string{"iin": "900101300811", "password": pw, "code": "000000"})                              // no code sent: one-time-code-invalid
	c.portalJSON("POST", "/accounts/codes", "", map[string]string{"iin": "100203500443"})                                                          // phone-not-registered
	c.portalJSON("POST", "/accounts/codes", "", map[string]string{"iin": "900101300811"})                                                          // 202, the code goes to the register's phone
	c.portalJSON("POST", "/sessions", "", map[string]string{"iin": "050815600217", "password": "Wrong-parol-1"})
	_, body := c.portalJSON("POST", "/sessions", "", map[string]string{"iin": newcomerIIN, "password": pw})
	var s struct{ Token string }
	_ = json.Unmarshal(body, &s)
	c.portalJSON("GET", "/requests", "", nil)
	c.portalJSON("GET", "/requests", s.Token, nil)
	c.portalJSON("DELETE", "/sessions", s.Token, nil)
	// The citizen who submits logs in with his signature.
	_, body = c.do("POST", portal+"/api/v1/sessions/signature", "", "application/xml", []byte(c.signedChallenge(citizenAuth)))
	s.Token = ""
	_ = json.Unmarshal(body, &s)
	if s.Token == "" {
		t.Fatalf("login by signature: %s", body)
	}
	c.token = s.Token
	c.portalJSON("GET", "/services", "", nil)
	c.portalJSON("GET", "/services/job-seeker-registration", "", nil)
	c.portalJSON("GET", "/services/job-seeker-registration/skeleton?region=aktobe", "", nil)
	c.portalJSON("GET", "/services/space-travel", "", nil)

	files := map[string][]byte{"id.pdf": cardScan}
	js := doc{service: "job-seeker-registration", region: "east-kazakhstan", form: map[string]string{"education": "higher"}, attach: true}
	first := c.signedRequest(js, citizen)
	c.submit(c.token, first, files)
	c.submit(c.token, first, files) // request-replayed
	c.submit(c.token, c.signedRequest(doc{service: "employment-referral", region: "aktobe", form: map[string]string{"measure": "public-works"}, attach: true}, citizen), files)
	c.submit(c.token, c.signedRequest(doc{service: "tsa-membership-certificate", region: "karaganda"}, citizen), nil)

	refusals := []struct {
		d     doc
		key   *signing.Signer
		files map[string][]byte
	}{
		{doc{service: "child-benefit", region: "karaganda"}, citizen, nil},                                                                                                                               // service-not-on-portal
		{doc{service: "employment-referral", region: "almaty-city", form: map[string]string{"measure": "public-works"}, attach: true}, citizen, files},                                                   // region-not-served
		{doc{service: "job-seeker-registration", region: "aktobe", form: map[string]string{"education": "astronaut"}, attach: true}, citizen, files},                                                     // form-invalid
		{doc{service: "job-seeker-registration", region: "aktobe", form: map[string]string{"education": "higher"}, attach: true}, citizen, nil},                                                          // attachment-missing
		{doc{service: "job-seeker-registration", region: "aktobe", form: map[string]string{"education": "higher"}, attach: true}, citizen, map[string][]byte{"id.pdf": []byte("other bytes")}},           // attachment-mismatch
		{doc{service: "job-seeker-registration", region: "aktobe", form: map[string]string{"education": "higher"}, attach: true}, citizen, map[string][]byte{"id.pdf": cardScan, "extra.pdf": cardScan}}, // attachment-undeclared
		{doc{service: "job-seeker-registration", region: "aktobe", form: map[string]string{"education": "higher"}, attach: true, expires: "2020-01-01"}, citizen, files},                                 // attachment-rejected
		{doc{service: "job-seeker-registration", region: "aktobe", form: map[string]string{"education": "higher"}, attach: true, issued: time.Now().Add(-2 * time.Hour)}, citizen, files},                // request-stale
		{doc{service: "job-seeker-registration", region: "aktobe", form: map[string]string{"education": "higher"}, attach: true, iin: "900101300811"}, other, files},                                     // iin-mismatch
	}
	for _, r := range refusals {
		c.submit(c.token, c.signedRequest(r.d, r.key), r.files)
	}
	for _, f := range []string{"tampered-iin.xml", "expired.xml", "revoked.xml", "untrusted-ca.xml", "auth-key.xml", "sha1.xml",
		"unsigned.xml", "two-signatures.xml", "wrapping-moved.xml", "comment-in-iin.xml", "billion-laughs.xml", "gost.xml"} {
		c.submit(c.token, fixtureFile(t, f), nil)
	}
	c.do("POST", portal+"/api/v1/requests", c.token, "application/json", []byte(`{"not":"multipart"}`)) // media-unsupported
	c.portalJSON("GET", "/requests", c.token, nil)
	c.portalJSON("GET", "/requests/00000000-0000-0000-0000-000000000000", c.token, nil)
	c.portalJSON("GET", "/cabinet/messages?limit=5", c.token, nil)
	c.portalJSON("DELETE", "/sessions", c.token, nil)
	c.portalJSON("GET", "/requests", c.token, nil) // after logout

	// The bus: one success per operation and every fault it can produce.
	valid := escape(string(fixtureFile(t, "valid.xml")))
	send := func(sender, password, service, data string) string {
		return `<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:sendMessage xmlns:ns2="http://bip.bee.kz/AsyncChannel/v10/Types"><request><messageInfo><serviceId>` +
			service + `</serviceId><messageType>REQUEST</messageType><messageDate>2026-06-01T06:00:00Z</messageDate><sender><senderId>` + sender +
			`</senderId><password>` + password + `</password></sender></messageInfo><messageData><data>` + data + `</data></messageData></request></ns2:sendMessage></S:Body></S:Envelope>`
	}
	c.envelope("/shep/async", send("egov-portal", "portal-secret", "job-seeker-registration", valid))                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                  // sendMessageResponse
	c.envelope("/shep/async", send("egov-portal", "guess", "job-seeker-registration", valid))                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                          // SCE004
	c.envelope("/shep/async", send("egov-portal", "portal-secret", "space-travel", valid))                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                             // SCE004
	c.envelope("/shep/async", send("egov-portal", "portal-secret", "job-seeker-registration", escape(string(fixtureFile(t, "unsigned.xml")))))                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                         // SCE017
	c.envelope("/shep/async", send("egov-portal", "portal-secret", "job-seeker-registration", escape(string(fixtureFile(t, "tampered-iin.xml")))))                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                     // SCE016
	c.envelope("/shep/async", send("egov-portal", "portal-secret", "job-seeker-registration", escape(string(fixtureFile(t, "expired.xml")))))                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                          // SCE015
	c.envelope("/shep/async", "<not-soap/>")                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                           // SCE001
	c.envelope("/shep/async", `<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:getMessageStatus xmlns:ns2="http://bip.bee.kz/AsyncChannel/v10/Types"><request><messageId>no-such-message</messageId><requestDate>2026-06-01T06:00:00Z</requestDate><sender><senderId>egov-portal</senderId><password>portal-secret</password></sender></request></ns2:getMessageStatus></S:Body></S:Envelope>`)                                                                                                                                                                                                                                           // SCE001
	c.envelope("/shep/async", `<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:getMessages xmlns:ns2="http://bip.bee.kz/AsyncChannel/v10/Types"><request><serviceId>job-seeker-registration</serviceId><sender><senderId>egov-portal</senderId><password>portal-secret</password></sender><amount>1</amount><properties><key>QUEUE</key><value>ais-rynok-truda</value></properties></request></ns2:getMessages></S:Body></S:Envelope>`)                                                                                                                                                                                                   // SCE004
	c.envelope("/shep/sync", `<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:SendMessage xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types"><request><requestInfo><messageId>3c2b1a0f-9e8d-4c7b-a6f5-e4d3c2b1a0f9</messageId><serviceId>GBDFL_PERSON_BY_IIN</serviceId><messageDate>2026-06-01T06:00:00Z</messageDate><sender><senderId>ais-rynok-truda</senderId><password>labour-secret</password></sender></requestInfo><requestData><data>&lt;PersonRequest xmlns="urn:egov-gateway:gbdfl:v1"&gt;&lt;IIN&gt;791028302728&lt;/IIN&gt;&lt;/PersonRequest&gt;</data></requestData></request></ns2:SendMessage></S:Body></S:Envelope>`) // SendMessageResponse
}

func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\r':
			b.WriteString("&#xD;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestRecordAndReplay records a short session through a running stack,
// masked and unmasked, and replays the unmasked recording on a fresh one.
func TestRecordAndReplay(t *testing.T) {
	for _, mask := range []bool{false, true} {
		dir := t.TempDir()
		var extra []string
		if mask {
			extra = []string{"--mask"} // nothing personal may reach the disk
		}
		portal, bus, _ := upStack(t, dir, extra...)
		citizen, _ := signing.LoadSigner("../../fixtures/pki/keys/citizen.p12", "Qwerty12")
		c := &caller{t: t, portal: portal, bus: bus, citizen: citizen}
		c.portalJSON("POST", "/accounts", "", map[string]string{"iin": "791028302728", "password": "Samal-2026-parol", "signedChallenge": c.signedChallenge(citizen)})
		_, data := c.portalJSON("POST", "/sessions", "", map[string]string{"iin": "791028302728", "password": "Samal-2026-parol"})
		var s struct{ Token string }
		_ = json.Unmarshal(data, &s)
		js := doc{service: "job-seeker-registration", region: "aktobe", form: map[string]string{"education": "higher"}, attach: true}
		c.submit(s.Token, c.signedRequest(js, citizen), map[string][]byte{"id.pdf": cardScan})
		c.submit(s.Token, fixtureFile(t, "expired.xml"), nil)
		cp, err := corpus.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		// The challenge, the registration, the login, two submissions.
		if len(cp.Entries) != 5 || cp.Entries[1].Expect.Status != 201 || cp.Entries[3].Expect.Status != 202 || cp.Entries[4].Expect.Code != "certificate-expired" || cp.Entries[2].Opens == "" || cp.Entries[3].Session != cp.Entries[2].Opens {
			t.Fatalf("recorded %+v", cp.Entries)
		}
		if mask {
			for _, e := range cp.Entries {
				body, _ := cp.Body(e)
				if bytes.Contains(body, []byte("791028302728")) || bytes.Contains(body, []byte("ЖАҚСЫЛЫҚОВ")) || bytes.Contains(body, []byte("Samal-2026-parol")) {
					t.Fatalf("masked %s holds personal data", e.Name)
				}
			}
			continue
		}
		portal2, bus2, _ := upStack(t, "")
		var out bytes.Buffer
		if code := run(context.Background(), []string{"replay", dir, "--target", portal2, "--bus", bus2, "--resign-with", "../../fixtures/pki/keys/citizen.p12"}, &out, &out); code != 0 {
			t.Fatalf("replay of a fresh recording: exit %d\n%s", code, out.String())
		}
	}
}
