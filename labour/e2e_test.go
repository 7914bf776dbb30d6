package labour_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"egov"
	"egov/document"
	"egov/gateway"
	"egov/internal/redisconn"
	"egov/internal/redistest"
	"egov/labour"
	"egov/shep"
	"egov/shep/gbdfl"
	"egov/shep/soap"
	"egov/signing"
	"egov/signing/pki"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// stack is the bus, the portal and the labour-market system, each behind
// its own HTTP server or client, on one real Redis.
type stack struct {
	t        *testing.T
	r        *redistest.Redis
	bus      *shep.Bus
	busSrv   *httptest.Server
	portal   *httptest.Server
	now      func() time.Time
	verifier *signing.Verifier
	labour   func() context.CancelFunc
	// shift is how far the stack's clock has been moved on from stackTime.
	shift *atomic.Int64
	keys  map[string]*signing.Signer
	// systems are the labour-market systems labour started, in order.
	systems []*labour.System
}

// The stack's clock: Thursday 15 January 2026, 10:00 in Almaty, when the
// citizen born 3 February 2010 is still 15.
var stackTime = time.Date(2026, 1, 15, 10, 0, 0, 0, egov.Almaty)

func newStack(t *testing.T, visibility time.Duration) *stack {
	t.Helper()
	return newStackLog(t, visibility, quiet)
}

// newStackLog is newStack with every part logging to log.
func newStackLog(t *testing.T, visibility time.Duration, log *slog.Logger) *stack {
	t.Helper()
	return newStackOn(t, redistest.New(t), visibility, log, redisconn.Durability{})
}

// newStackOn is newStackLog on a given Redis, the labour-market system
// storing its decisions with durable.
func newStackOn(t *testing.T, r *redistest.Redis, visibility time.Duration, log *slog.Logger, durable redisconn.Durability) *stack {
	t.Helper()
	shift := &atomic.Int64{}
	now := func() time.Time { return stackTime.Add(time.Duration(shift.Load())) }
	trust, err := signing.LoadTrustDir("../fixtures/pki/trust")
	if err != nil {
		t.Fatal(err)
	}
	crl := &signing.CRLSet{Sources: []string{"../fixtures/pki/crl.pem"}, Trust: trust}
	if err := crl.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	verifier := &signing.Verifier{Trust: trust, Revocation: &signing.Revocation{CRL: crl}, Now: now}
	routing, err := shep.LoadRouting("../fixtures/shep/routing.json")
	if err != nil {
		t.Fatal(err)
	}
	bus, err := shep.New(r.Client, routing, shep.Config{KeyPrefix: r.Prefix, Verifier: verifier, Visibility: visibility, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	persons, err := gbdfl.Load("../fixtures/gbdfl/persons.json")
	if err != nil {
		t.Fatal(err)
	}
	bus.HandleSync(gbdfl.ServiceID, persons)
	busSrv := httptest.NewServer(bus.Handler())
	busClient := &shep.HTTPClient{BaseURL: busSrv.URL}

	app, err := gateway.New(r.Client, gateway.Config{KeyPrefix: r.Prefix, Verifier: verifier, Bus: busClient,
		Sender:       soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"},
		ProviderBINs: map[string]string{"ais-rynok-truda": "940140000385"}, RelayBackoff: 50 * time.Millisecond, Now: now, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	portal := httptest.NewServer(app.Handler(gateway.HTTPOptions{}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { app.Run(ctx); close(done) }()

	s := &stack{t: t, r: r, bus: bus, busSrv: busSrv, portal: portal, now: now, shift: shift, verifier: verifier, keys: map[string]*signing.Signer{}}
	provider := s.key("provider")
	var mu sync.Mutex
	var stops []context.CancelFunc
	s.labour = func() context.CancelFunc {
		sys, err := labour.New(r.Client, labour.Config{Bus: &shep.HTTPClient{BaseURL: busSrv.URL},
			Sender: soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "labour-secret"}, Signer: provider,
			Verifier: verifier, KeyPrefix: r.Prefix, Now: now, Log: log, Durability: durable})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		s.systems = append(s.systems, sys)
		mu.Unlock()
		lctx, lcancel := context.WithCancel(context.Background())
		ldone := make(chan struct{})
		go func() { sys.Run(lctx); close(ldone) }()
		stop := func() { lcancel(); <-ldone }
		mu.Lock()
		stops = append(stops, stop)
		mu.Unlock()
		return stop
	}
	t.Cleanup(func() {
		mu.Lock()
		for _, stop := range stops {
			stop()
		}
		mu.Unlock()
		cancel()
		<-done
		portal.Close()
		busSrv.Close()
		_ = bus.Close()
	})
	return s
}

// key opens a fixture key, or issues a fresh certificate for an IIN from
// a copy of the test authority.
func (s *stack) key(name string) *signing.Signer {
	if k, ok := s.keys[name]; ok {
		return k
	}
	var k *signing.Signer
	var err error
	if bin, ok := strings.CutPrefix(name, "employee:"); ok {
		// An employee of the organisation: its BIN, no right to sign for it.
		var iss *pki.Issued
		iss, err = copyAuthority(s.t).Issue(pki.IssueOptions{IIN: "800515400122", Name: "СОТРУДНИКОВ СОТРУДНИК", Kind: pki.KindOrg,
			BIN: bin, Organization: "КГУ «ЦЕНТР ЗАНЯТОСТИ НАСЕЛЕНИЯ» (TEST)", Role: signing.KeyUserEmployee,
			NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err == nil {
			k = &signing.Signer{Key: iss.Key, Certificate: iss.Certificate}
		}
	} else if spec, ok := strings.CutPrefix(name, "org:"); ok {
		// "org:BIN:role:IIN": a holder of that role in the organisation.
		f := strings.Split(spec, ":")
		var iss *pki.Issued
		iss, err = copyAuthority(s.t).Issue(pki.IssueOptions{IIN: f[2], Name: "ОПЕРАТОРОВ ОПЕРАТОР", Kind: pki.KindOrg,
			BIN: f[0], Organization: "НАО «ГОСУДАРСТВЕННАЯ КОРПОРАЦИЯ «ПРАВИТЕЛЬСТВО ДЛЯ ГРАЖДАН»» (TEST)", Role: signing.KeyUser(f[1]),
			NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err == nil {
			k = &signing.Signer{Key: iss.Key, Certificate: iss.Certificate}
		}
	} else if strings.HasPrefix(name, "iin:") {
		a := copyAuthority(s.t)
		var iss *pki.Issued
		iss, err = a.Issue(pki.IssueOptions{IIN: strings.TrimPrefix(name, "iin:"), Name: "ТЕСТОВ ТЕСТ",
			NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err == nil {
			k = &signing.Signer{Key: iss.Key, Certificate: iss.Certificate}
		}
	} else {
		k, err = signing.LoadSigner(filepath.Join("../fixtures/pki/keys", name+".p12"), "Qwerty12")
	}
	if err != nil {
		s.t.Fatal(err)
	}
	s.keys[name] = k
	return k
}

func copyAuthority(t *testing.T) *pki.Authority {
	a, err := pki.Clone("../fixtures/pki", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

type citizen struct {
	iin, token string
	key        *signing.Signer
}

func (s *stack) citizen(iin, keyName string) *citizen {
	s.t.Helper()
	// Registration proves the IIN: the citizen signs the portal's challenge.
	var ch struct{ Document string }
	if code := s.get("/api/v1/auth/challenge", "", &ch); code != http.StatusOK {
		s.t.Fatalf("challenge: %d", code)
	}
	signed, err := s.key(keyName).Sign([]byte(ch.Document))
	if err != nil {
		s.t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"iin": iin, "password": "Samal-2026-parol", "signedChallenge": string(signed)})
	if code, _ := s.post("/api/v1/accounts", "", "application/json", body, nil); code != http.StatusCreated {
		s.t.Fatalf("register %s: %d", iin, code)
	}
	var sess struct{ Token string }
	if code, _ := s.post("/api/v1/sessions", "", "application/json", []byte(fmt.Sprintf(`{"iin":%q,"password":"Samal-2026-parol"}`, iin)), &sess); code != http.StatusCreated {
		s.t.Fatalf("login %s: %d", iin, code)
	}
	return &citizen{iin: iin, token: sess.Token, key: s.key(keyName)}
}

func (s *stack) post(path, token, ct string, body []byte, out any) (int, []byte) {
	s.t.Helper()
	req, _ := http.NewRequest("POST", s.portal.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.do(req, out)
}

func (s *stack) get(path, token string, out any) int {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.portal.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	code, _ := s.do(req, out)
	return code
}

func (s *stack) do(req *http.Request, out any) (int, []byte) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(data, out)
	}
	return resp.StatusCode, data
}

var scan = []byte("%PDF-1.7 identity card scan")

// submit signs and sends a request of service with one form field; the
// identity document is attached for registrations.
func (s *stack) submit(c *citizen, service, field, value string) string {
	s.t.Helper()
	req := s.request(uuid.NewString(), c.iin, service, field, value)
	code, data := s.send(c, req.Document(), len(req.Attachments) > 0)
	if code != http.StatusAccepted {
		s.t.Fatalf("submit %s for %s: %d %s", service, c.iin, code, data)
	}
	return req.RequestID
}

// request is the request document of applicant iin with one form field;
// the identity document is declared for registrations and referrals.
func (s *stack) request(id, iin, service, field, value string) *document.Request {
	req := &document.Request{RequestID: id, ServiceCode: service, Region: "aktobe", IssuedAt: s.now(),
		Applicant: document.Applicant{IIN: iin, Surname: "ТЕСТОВ", GivenName: "ТЕСТ"}, Form: map[string]string{field: value}}
	if service == "job-seeker-registration" || service == "employment-referral" {
		sum := sha256.Sum256(scan)
		expires := time.Date(2031, 1, 1, 0, 0, 0, 0, egov.Almaty)
		req.Attachments = []document.AttachmentHeader{{Kind: "identity-document", FileName: "id.pdf", MIMEType: "application/pdf",
			Size: int64(len(scan)), SHA256: hex.EncodeToString(sum[:]), Expires: &expires}}
	}
	return req
}

// send signs doc with the citizen's key and submits it in his session,
// with the identity card scan attached if asked.
func (s *stack) send(c *citizen, doc []byte, attach bool) (int, []byte) {
	s.t.Helper()
	signed, err := c.key.Sign(doc)
	if err != nil {
		s.t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="request"`)
	h.Set("Content-Type", "application/xml")
	w, _ := mw.CreatePart(h)
	w.Write(signed)
	if attach {
		fw, _ := mw.CreateFormFile("file", "id.pdf")
		fw.Write(scan)
	}
	mw.Close()
	return s.post("/api/v1/requests", c.token, mw.FormDataContentType(), body.Bytes(), nil)
}

type request struct {
	State   gateway.State
	Outcome string
}

// await waits for a request to reach its result and returns the state.
func (s *stack) await(c *citizen, id string) request {
	s.t.Helper()
	var r request
	for i := 0; i < 500; i++ {
		s.get("/api/v1/requests/"+id, c.token, &r)
		if r.State == gateway.StateCompleted || r.State == gateway.StateRefused {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("request %s stuck in %s", id, r.State)
	return r
}

type message struct {
	ID, Kind, RequestID string
	Data                map[string]string
	HasDocument         bool
}

func (s *stack) results(c *citizen) []message {
	var page struct{ Messages []message }
	s.get("/api/v1/cabinet/messages?limit=100", c.token, &page)
	var out []message
	for _, m := range page.Messages {
		if m.Kind == "result" || m.Kind == "refusal" {
			out = append(out, m)
		}
	}
	return out
}

func TestJobSeekerJourneyAndRefusals(t *testing.T) {
	s := newStack(t, 30*time.Second)
	s.labour()
	aidos := s.citizen("791028302728", "citizen")
	id := s.submit(aidos, "job-seeker-registration", "education", "higher")
	if r := s.await(aidos, id); r.State != gateway.StateCompleted || r.Outcome != "registered" {
		t.Fatalf("registration: %+v", r)
	}
	res := s.results(aidos)
	if len(res) != 1 || !res[0].HasDocument || !strings.HasPrefix(res[0].Data["number"], "JS-2026-") {
		t.Fatalf("cabinet results: %+v", res)
	}
	// The notice in the cabinet is signed by the employment centre.
	var doc []byte
	req, _ := http.NewRequest("GET", s.portal.URL+"/api/v1/cabinet/messages/"+res[0].ID+"/document", nil)
	req.Header.Set("Authorization", "Bearer "+aidos.token)
	_, doc = s.do(req, nil)
	vr, err := s.verifier.Verify(context.Background(), doc)
	if err != nil || vr.Signer.BIN != "940140000385" || !vr.Signer.HasKeyUser(signing.KeyUserCEO) {
		t.Fatalf("notice signature: %v", err)
	}

	// A second registration of the same citizen is refused.
	again := s.submit(aidos, "job-seeker-registration", "education", "higher")
	if r := s.await(aidos, again); r.State != gateway.StateRefused {
		t.Fatalf("second registration: %+v", r)
	}
	if g := groundOf(s.results(aidos), again); g != "already-registered" {
		t.Fatalf("second registration ground %q", g)
	}

	// Under 16 on the day of the request.
	teen := s.citizen("100203500443", "iin:100203500443")
	tid := s.submit(teen, "job-seeker-registration", "education", "secondary")
	s.await(teen, tid)
	if g := groundOf(s.results(teen), tid); g != "underage" {
		t.Fatalf("underage ground %q", g)
	}

	// The persons register holds an expired identity card for this citizen.
	daniyar := s.citizen("900101300811", "citizen2")
	did := s.submit(daniyar, "job-seeker-registration", "education", "vocational")
	s.await(daniyar, did)
	if g := groundOf(s.results(daniyar), did); g != "document-expired" {
		t.Fatalf("expired document ground %q", g)
	}

	// Referral: refused before registration, granted after it.
	aigerim := s.citizen("050815600217", "iin:050815600217")
	r1 := s.submit(aigerim, "employment-referral", "measure", "youth-practice")
	s.await(aigerim, r1)
	if g := groundOf(s.results(aigerim), r1); g != "not-registered" {
		t.Fatalf("referral before registration: %q", g)
	}
	reg := s.submit(aigerim, "job-seeker-registration", "education", "secondary")
	if r := s.await(aigerim, reg); r.Outcome != "registered" {
		t.Fatalf("registration: %+v", r)
	}
	r2 := s.submit(aigerim, "employment-referral", "measure", "youth-practice")
	if r := s.await(aigerim, r2); r.Outcome != "referred" {
		t.Fatalf("referral after registration: %+v", r)
	}
	for _, m := range s.results(aigerim) {
		if m.RequestID == r2 && (m.Data["kind"] != "youth-practice" || !strings.HasPrefix(m.Data["number"], "REF-")) {
			t.Fatalf("referral message %+v", m)
		}
	}
}

func groundOf(msgs []message, id string) string {
	for _, m := range msgs {
		if m.RequestID == id {
			return m.Data["ground"]
		}
	}
	return ""
}

func TestCrashedLabourLosesNothingAndAnswersOnce(t *testing.T) {
	s := newStack(t, time.Second)
	aidos := s.citizen("791028302728", "citizen")
	var ids []string
	for _, svc := range []string{"job-seeker-registration", "employment-referral", "employment-referral"} {
		field, value := "education", "higher"
		if svc == "employment-referral" {
			field, value = "measure", "public-works"
		}
		ids = append(ids, s.submit(aidos, svc, field, value))
	}
	// A labour-market process leases the three requests and dies: no
	// confirmation, no answer.
	labourSender := soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "labour-secret"}
	var leased []soap.AsyncMessage
	for i := 0; i < 100 && len(leased) < 3; i++ {
		resp, err := s.bus.GetMessages(context.Background(), shep.NewGetMessages(labourSender, "job-seeker-registration", 10, time.Second))
		if err != nil {
			t.Fatal(err)
		}
		leased = append(leased, resp.Response.Messages...)
	}
	if len(leased) != 3 {
		t.Fatalf("leased %d requests", len(leased))
	}
	// Another dies after answering one of them but before confirming it.
	sys, err := labour.New(s.r.Client, labour.Config{Bus: s.bus, Sender: labourSender, Signer: s.key("provider"), Verifier: s.verifier,
		KeyPrefix: s.r.Prefix, Now: s.now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.Process(context.Background(), leased[0]); err != nil {
		t.Fatal(err)
	}
	// A fresh process starts; the leases expire and everything comes back.
	s.labour()
	for _, id := range ids {
		s.await(aidos, id)
	}
	time.Sleep(2 * time.Second) // room for any duplicate to show up
	counts := map[string]int{}
	for _, m := range s.results(aidos) {
		counts[m.RequestID]++
	}
	for _, id := range ids {
		if counts[id] != 1 {
			t.Fatalf("request %s has %d results in the cabinet, want exactly 1", id, counts[id])
		}
	}
	// The registration happened once: the referrals went through.
	var r request
	s.get("/api/v1/requests/"+ids[0], aidos.token, &r)
	if r.Outcome != "registered" {
		t.Fatalf("registration: %+v", r)
	}
}

// Deliveries of the same request racing each other (a lease that expired
// while its worker was still deciding) decide it once: the others are
// refused while it is being decided and, once it is, answer from the
// stored record.
func TestConcurrentDeliveriesDecideOnce(t *testing.T) {
	s := newStack(t, time.Minute)
	aidos := s.citizen("791028302728", "citizen")
	id := s.submit(aidos, "job-seeker-registration", "education", "higher")
	labourSender := soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "labour-secret"}
	var leased []soap.AsyncMessage
	for i := 0; i < 100 && len(leased) == 0; i++ {
		resp, err := s.bus.GetMessages(context.Background(), shep.NewGetMessages(labourSender, "job-seeker-registration", 1, time.Second))
		if err != nil {
			t.Fatal(err)
		}
		leased = resp.Response.Messages
	}
	if len(leased) != 1 {
		t.Fatal("the request was not delivered")
	}
	sys, err := labour.New(s.r.Client, labour.Config{Bus: s.bus, Sender: labourSender, Signer: s.key("provider"), Verifier: s.verifier,
		KeyPrefix: s.r.Prefix, Now: s.now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	const workers = 8
	errs := make(chan error, workers)
	var start sync.WaitGroup
	start.Add(1)
	for range workers {
		go func() { start.Wait(); errs <- sys.Process(context.Background(), leased[0]) }()
	}
	start.Done()
	decided, busy := 0, 0
	for range workers {
		switch err := <-errs; {
		case err == nil:
			decided++
		case strings.Contains(err.Error(), "another worker"):
			busy++
		default:
			t.Fatal(err)
		}
	}
	if decided == 0 || decided+busy != workers {
		t.Fatalf("%d decided, %d refused as busy", decided, busy)
	}
	// Once decided, every delivery answers from the record.
	if err := sys.Process(context.Background(), leased[0]); err != nil {
		t.Fatalf("after the decision: %v", err)
	}
	if n, err := s.r.Client.Get(context.Background(), s.r.Prefix+"lm:sequence:job-seeker-registration").Int(); err != nil || n != 1 {
		t.Fatalf("registration numbers drawn: %d (%v), want 1", n, err)
	}
	if n, err := s.r.Client.Exists(context.Background(), s.r.Prefix+"lm:{791028302728}:request:egov-portal:"+id+":lock").Result(); err != nil || n != 0 {
		t.Fatalf("decision lock left behind: %d (%v)", n, err)
	}
	// The answers are idempotent on the bus: the portal files one result.
	s.await(aidos, id)
	time.Sleep(time.Second)
	counts := 0
	for _, m := range s.results(aidos) {
		if m.RequestID == id {
			counts++
		}
	}
	if counts != 1 {
		t.Fatalf("%d results in the cabinet, want 1", counts)
	}
}

// A script whose answer is late is sent again by the client, and Redis has
// often run it already: with every script of the bus, the portal and the
// labour-market system run twice, a request is still handed out once,
// decided once at its first delivery and answered once. (Run twice, the
// lease counted a second delivery, the decision lock kept its own worker
// out as "another worker", and the stored decision was taken for a lost
// lock: three of a message's five deliveries spent on nothing.)
func TestScriptsRunTwiceDecideAtTheFirstDelivery(t *testing.T) {
	r := redistest.New(t)
	redistest.RunScriptsTwice(r.Client)
	s := newStackOn(t, r, 30*time.Second, quiet, redisconn.Durability{})
	s.labour()
	aidos := s.citizen("791028302728", "citizen")
	id := s.submit(aidos, "job-seeker-registration", "education", "higher")
	if got := s.await(aidos, id); got.Outcome != "registered" {
		t.Fatalf("request %s: %+v", id, got)
	}
	ctx := context.Background()
	records, err := r.Keys(ctx, r.Prefix+"shep:{ais-rynok-truda}:m:*")
	if err != nil || len(records) != 1 {
		t.Fatalf("bus records of the labour-market queue: %v (%v), want one", records, err)
	}
	// The labour-market system confirms the request after it has sent its
	// answers: the portal may file the result first.
	var rec []any
	for i := 0; i < 250; i++ {
		if rec, err = r.Client.HMGet(ctx, records[0], "state", "deliveries").Result(); err != nil {
			t.Fatal(err)
		}
		if rec[0] != "ON_DELIVERY" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rec[0] != "DELIVERED" || rec[1] != "1" {
		t.Fatalf("the request's bus message: state %v after %v deliveries, want DELIVERED after 1", rec[0], rec[1])
	}
	if n, err := r.Client.Get(ctx, r.Prefix+"lm:sequence:job-seeker-registration").Int(); err != nil || n != 1 {
		t.Fatalf("registration numbers drawn: %d (%v), want 1", n, err)
	}
	if got := len(s.results(aidos)); got != 1 {
		t.Fatalf("%d results in the cabinet, want 1", got)
	}
	// The evidence log holds the request's acceptance and its hand-out
	// once each: a batch appended twice would be there twice.
	busID := strings.TrimPrefix(records[0], r.Prefix+"shep:{ais-rynok-truda}:m:")
	logs, err := r.Keys(ctx, r.Prefix+"shep:{evidence*}:log")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, stream := range logs {
		entries, err := r.Client.XRange(ctx, stream, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			var links []struct{ Record json.RawMessage }
			if err := json.Unmarshal([]byte(fmt.Sprint(e.Values["links"])), &links); err != nil {
				t.Fatal(err)
			}
			for _, l := range links {
				var rec struct{ Direction, Operation, MessageID string }
				_ = json.Unmarshal(l.Record, &rec)
				if rec.MessageID == busID {
					seen[rec.Direction+" "+rec.Operation]++
				}
			}
		}
	}
	if seen["in sendMessage"] != 1 || seen["out getMessages"] != 1 {
		t.Fatalf("evidence of the request's message: %v, want one acceptance and one hand-out", seen)
	}
	if rep, err := shep.VerifyEvidence(ctx, r.Client, r.Prefix); err != nil || !rep.Intact {
		t.Fatalf("evidence log: %+v %v", rep, err)
	}
}

// With durability asked for, a decision's result goes out only once the
// replica has the decision: with the replica gone, processing fails before
// anything is sent (the message comes back), also for the decision the
// master kept; with a replica back the stored decision's result is sent,
// once.
func TestDecisionWaitsForTheReplica(t *testing.T) {
	master, replica, err := redistest.StartReplicated(t)
	if err != nil {
		t.Fatal(err)
	}
	durable := redisconn.Durability{Replicas: 1, Timeout: 300 * time.Millisecond}
	s := newStackOn(t, redistest.On(t, master), time.Second, quiet, durable)
	aidos := s.citizen("791028302728", "citizen")
	id := s.submit(aidos, "job-seeker-registration", "education", "higher")
	labourSender := soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "labour-secret"}
	var leased []soap.AsyncMessage
	for i := 0; i < 100 && len(leased) == 0; i++ {
		resp, err := s.bus.GetMessages(context.Background(), shep.NewGetMessages(labourSender, "job-seeker-registration", 10, time.Second))
		if err != nil {
			t.Fatal(err)
		}
		leased = resp.Response.Messages
	}
	if len(leased) != 1 {
		t.Fatalf("leased %d requests", len(leased))
	}
	sys, err := labour.New(s.r.Client, labour.Config{Bus: s.bus, Sender: labourSender, Signer: s.key("provider"), Verifier: s.verifier,
		KeyPrefix: s.r.Prefix, Now: s.now, Log: quiet, Durability: durable})
	if err != nil {
		t.Fatal(err)
	}
	if err := replica.Kill(); err != nil {
		t.Fatal(err)
	}
	for try := range 2 {
		if err := sys.Process(context.Background(), leased[0]); !errors.Is(err, redisconn.ErrNotReplicated) {
			t.Fatalf("try %d with the replica gone: %v, want it not replicated", try+1, err)
		}
	}
	if err := replica.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := replica.WaitInSync(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := s.results(aidos); len(got) != 0 {
		t.Fatalf("a result went out before the replica had its decision: %+v", got)
	}
	if err := sys.Process(context.Background(), leased[0]); err != nil {
		t.Fatalf("with a replica back: %v", err)
	}
	if r := s.await(aidos, id); r.Outcome != "registered" {
		t.Fatalf("outcome %+v", r)
	}
	if got := s.results(aidos); len(got) != 1 {
		t.Fatalf("%d results, want 1", len(got))
	}
	// One decision, taken at the first try and sent at the third.
	decisions := sys.Collectors()[0]
	if n := testutil.CollectAndCount(decisions); n != 1 || testutil.ToFloat64(decisions) != 1 {
		t.Errorf("decisions counted: %d series, want one decision registered", n)
	}
}
