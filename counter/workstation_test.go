package counter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"egov"
	"egov/counter"
	"egov/document"
	"egov/gateway"
	"egov/internal/redistest"
	"egov/labour"
	"egov/provider"
	"egov/regionaldesk"
	"egov/registers"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
	"egov/signing/pki"
	"egov/sms"
)

const stateCorporationBIN = "160540000019"

// The operators of fixtures/counter/operators.json.
var (
	karaganda = operatorLogin{"krg-op-01", "Operator-KRG-01", "901201400012"}
	almaty    = operatorLogin{"ala-op-03", "Operator-ALA-03", "850312300012"}
)

// The specialists of fixtures/employment-centre/specialists.json.
var (
	almatyCentre = operatorLogin{"czn-ala-01", "Specialist-ALA-01", "880715400005"}
	ustKamCentre = operatorLogin{"czn-vko-01", "Specialist-VKO-01", "880715401965"}
)

type operatorLogin struct{ login, password, iin string }

// desk is the API an operator logs in at.
func (s *counterStack) desk(op operatorLogin) *httptest.Server {
	if strings.HasPrefix(op.login, "czn-") {
		return s.centre
	}
	return s.api
}

// counterStack is the counter's whole journey on real servers: the bus
// with the registers, the labour-market system and АРМ РШЭП polling it,
// and the workstation's API, all on one real Redis, with one clock.
type counterStack struct {
	t        *testing.T
	api      *httptest.Server
	centre   *httptest.Server            // the employment centres' desk
	servers  map[string]*httptest.Server // session token → the desk it opened at
	handler  http.Handler
	verifier *signing.Verifier
	keys     map[string]*signing.Signer // operator IIN → his organisation key
	cat      *gateway.Catalogue
	cal      *gateway.Calendar
	rdb      *redistest.Redis
	portal   *gateway.App // whose cabinet the citizen reads
	labour   *provider.System
	skipDays func(n int) // moves every system's clock n days ahead
}

func newCounterStack(t *testing.T) *counterStack {
	t.Helper()
	return newCounterStackWith(t, stackOptions{})
}

// stackOptions take parts out of a counterStack.
type stackOptions struct {
	providersRefuseFilings bool // the providers take no counter's filings
	noSMSGateway           bool // nobody answers SMS_SEND on the bus
	// catalogue changes the catalogue every system of the stack reads.
	catalogue func(*gateway.Catalogue)
	// contracts is a data set of the register of employment contracts
	// instead of the built-in one.
	contracts string
}

// newCounterStackWith is newCounterStack without the parts opt takes out.
// Its clock starts at today and runs.
func newCounterStackWith(t *testing.T, opt stackOptions) *counterStack {
	t.Helper()
	r := redistest.New(t)
	started := time.Now()
	var skipped atomic.Int64 // days the test skipped ahead
	now := func() time.Time { return today.AddDate(0, 0, int(skipped.Load())).Add(time.Since(started)) }
	trust, err := signing.LoadTrustDir("../fixtures/pki/trust")
	if err != nil {
		t.Fatal(err)
	}
	crl := &signing.CRLSet{Sources: []string{"../fixtures/pki/crl.pem"}, Trust: trust}
	if err := crl.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	verifier := &signing.Verifier{Trust: trust, Revocation: &signing.Revocation{CRL: crl}, Now: now}
	routing, err := shep.LoadRoutingOrBuiltIn("")
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		quiet = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	bus, err := shep.New(r.Client, routing, shep.Config{KeyPrefix: r.Prefix, Verifier: verifier, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := registers.Host(bus, registers.Files{Contracts: opt.contracts}); err != nil {
		t.Fatal(err)
	}
	if !opt.noSMSGateway {
		bus.HandleSync(sms.ServiceID, sms.New(r.Client, sms.Config{KeyPrefix: r.Prefix, Log: quiet}))
	}
	busSrv := httptest.NewServer(bus.Handler())
	client := func() shep.Client { return &shep.HTTPClient{BaseURL: busSrv.URL} }
	counters := map[string]string{counter.SenderID: stateCorporationBIN}
	takes := map[string]provider.Filer{
		counter.SenderID:                {BIN: stateCorporationBIN, Filed: counter.StateCorporation.Filed, Channels: counter.StateCorporation.Channels},
		counter.EmploymentCentre.System: {BIN: counter.EmploymentCentre.BIN, Filed: counter.EmploymentCentre.Filed, Channels: counter.EmploymentCentre.Channels}}
	if opt.providersRefuseFilings {
		takes = nil
	}
	cat, err := gateway.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	if opt.catalogue != nil {
		opt.catalogue(cat)
	}
	var runs []func(context.Context)
	var labourSystem *provider.System
	for _, p := range []struct {
		id  provider.Identity
		who soap.SenderInfo
		key string
	}{
		{labour.Identity, soap.SenderInfo{SenderID: labour.SenderID, Password: "labour-secret"}, "provider"},
		{regionaldesk.Identity, soap.SenderInfo{SenderID: regionaldesk.SenderID, Password: "rshep-secret"}, "regionaldesk"},
	} {
		signer, err := signing.LoadSigner(filepath.Join("../fixtures/pki/keys", p.key+".p12"), pki.DefaultPassword)
		if err != nil {
			t.Fatal(err)
		}
		sys, err := p.id.New(r.Client, provider.Config{Bus: client(), Sender: p.who, Signer: signer, Verifier: verifier,
			KeyPrefix: r.Prefix, Now: now, Log: quiet, Counters: takes, FiledThrough: cat.DeskChannel, PollWait: time.Second,
			Cabinets: map[string]string{counter.SenderID: "egov-portal"}})
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, sys.Run)
		if p.id.Namespace == labour.Identity.Namespace {
			labourSystem = sys
		}
	}
	cal, err := gateway.DefaultCalendar()
	if err != nil {
		t.Fatal(err)
	}
	ops, err := counter.StateCorporation.LoadStaff("")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := counter.New(r.Client, counter.Config{KeyPrefix: r.Prefix, Bus: client(), Sender: soap.SenderInfo{SenderID: counter.SenderID, Password: "counter-secret"},
		Operators: ops, Catalogue: cat, Calendar: cal, Verifier: verifier, BIN: stateCorporationBIN,
		ProviderBINs: map[string]string{labour.SenderID: "940140000385", regionaldesk.SenderID: "070540000713"},
		Portal:       "egov-portal", PollWait: time.Second, RelayEvery: 100 * time.Millisecond, StuckAfter: 200 * time.Millisecond, Now: now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	portal, err := gateway.New(r.Client, gateway.Config{KeyPrefix: r.Prefix, Verifier: verifier, Bus: client(), Catalogue: cat,
		Sender:       soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"},
		ProviderBINs: map[string]string{labour.SenderID: "940140000385", regionaldesk.SenderID: "070540000713"},
		CounterBINs:  counters, PollWait: time.Second, Now: now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	specialists, err := counter.EmploymentCentre.LoadStaff("")
	if err != nil {
		t.Fatal(err)
	}
	centre, err := counter.New(r.Client, counter.Config{Desk: counter.EmploymentCentre, KeyPrefix: r.Prefix, Bus: client(),
		Sender:    soap.SenderInfo{SenderID: counter.EmploymentCentre.System, Password: "czn-secret"},
		Operators: specialists, Catalogue: cat, Calendar: cal, Verifier: verifier, BIN: counter.EmploymentCentre.BIN,
		ProviderBINs: map[string]string{labour.SenderID: "940140000385"},
		Portal:       "egov-portal", PollWait: time.Second, RelayEvery: 100 * time.Millisecond, StuckAfter: 200 * time.Millisecond, Now: now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	runs = append(runs, ws.Run, portal.Run, centre.Run)
	handler := ws.Handler()
	api := httptest.NewServer(handler)
	centreAPI := httptest.NewServer(centre.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range runs {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		api.Close()
		centreAPI.Close()
		busSrv.Close()
		_ = bus.Close()
	})
	// Each operator's organisation key, issued by a copy of the test
	// authority: the State Corporation's BIN, the right to sign.
	a, err := pki.Clone("../fixtures/pki", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]*signing.Signer{}
	for _, op := range []operatorLogin{karaganda, almaty, almatyCentre, ustKamCentre} {
		bin, org := stateCorporationBIN, "НАО «ГОСУДАРСТВЕННАЯ КОРПОРАЦИЯ «ПРАВИТЕЛЬСТВО ДЛЯ ГРАЖДАН»» (TEST)"
		if strings.HasPrefix(op.login, "czn-") {
			bin, org = counter.EmploymentCentre.BIN, "КГУ «ЦЕНТР ЗАНЯТОСТИ НАСЕЛЕНИЯ» (TEST)"
		}
		iss, err := a.Issue(pki.IssueOptions{IIN: op.iin, Name: "ОПЕРАТОРОВ ОПЕРАТОР", Kind: pki.KindOrg, BIN: bin,
			Organization: org, Role: signing.KeyUserCanSign,
			NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		keys[op.iin] = &signing.Signer{Key: iss.Key, Certificate: iss.Certificate}
	}
	return &counterStack{t: t, labour: labourSystem, skipDays: func(n int) { skipped.Add(int64(n)) }, api: api, centre: centreAPI, servers: map[string]*httptest.Server{}, handler: handler, portal: portal, verifier: verifier, keys: keys, cat: cat, cal: cal, rdb: r}
}

// call sends one request to the workstation's API and decodes its JSON.
func (s *counterStack) call(method, path, token, contentType string, body []byte, out any) int {
	s.t.Helper()
	api := s.api
	if srv := s.servers[strings.TrimPrefix(token, "bearer ")]; srv != nil {
		api = srv
	}
	req, _ := http.NewRequest(method, api.URL+counter.APIPrefix+path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if strings.HasPrefix(token, "bearer ") {
		req.Header.Set("Authorization", token) // the scheme as some clients write it
	} else if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode
}

func (s *counterStack) login(op operatorLogin) string {
	s.t.Helper()
	var out struct{ Token string }
	s.servers[""] = s.desk(op)
	defer delete(s.servers, "")
	if code := s.call("POST", "/sessions", "", "application/json", mustJSON(map[string]string{"login": op.login, "password": op.password}), &out); code != http.StatusCreated {
		s.t.Fatalf("login %s: %d", op.login, code)
	}
	s.servers[out.Token] = s.desk(op)
	return out.Token
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// intake enters a request; it returns the status and the answer.
func (s *counterStack) intake(token string, in counter.IntakeForm) (int, counter.Draft, counter.Problem) {
	s.t.Helper()
	var raw json.RawMessage
	code := s.call("POST", "/intakes", token, "application/json", mustJSON(in), &raw)
	var d counter.Draft
	var p counter.Problem
	if code == http.StatusCreated {
		_ = json.Unmarshal(raw, &d)
	} else {
		_ = json.Unmarshal(raw, &p)
	}
	return code, d, p
}

// file enters, signs with the operator's key and submits a request.
func (s *counterStack) file(op operatorLogin, token string, in counter.IntakeForm) counter.Receipt {
	s.t.Helper()
	code, d, p := s.intake(token, in)
	if code != http.StatusCreated {
		s.t.Fatalf("intake: %d %+v", code, p)
	}
	signed, err := s.keys[op.iin].Sign([]byte(d.Document))
	if err != nil {
		s.t.Fatal(err)
	}
	var rc counter.Receipt
	if code := s.call("POST", "/intakes/"+d.ID+"/submission", token, "application/xml", signed, &rc); code != http.StatusCreated {
		s.t.Fatalf("submission: %d %+v", code, rc)
	}
	return rc
}

// awaitState waits until the filing reaches state.
func (s *counterStack) awaitState(token, id, state string) counter.Filing {
	s.t.Helper()
	var f counter.Filing
	for i := 0; i < 1000; i++ {
		s.call("GET", "/filings/"+id, token, "", nil, &f)
		if f.State == state {
			return f
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("filing %s is %s (%s), want %s", id, f.State, f.LastError, state)
	return f
}

// awaitNotice waits until the filing's SMS notice is settled.
func (s *counterStack) awaitNotice(token, id string) counter.Notice {
	s.t.Helper()
	for i := 0; i < 1000; i++ {
		var f counter.Filing
		s.call("GET", "/filings/"+id, token, "", nil, &f)
		if f.Notice != nil && f.Notice.Status != counter.NoticePending {
			return *f.Notice
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("the notice of %s was not settled", id)
	return counter.Notice{}
}

// wantDue checks the receipt's due date against the figure worked by hand
// from the regulation: accepted on a working Thursday morning, the term is
// within the day (no break, no holiday), so it is the acceptance plus the
// steps' working time.
func (s *counterStack) wantDue(rc counter.Receipt, steps time.Duration, lines string) {
	s.t.Helper()
	if rc.AcceptedAt.Before(today) || rc.AcceptedAt.After(today.Add(time.Minute)) {
		s.t.Fatalf("accepted at %s, the test's morning is %s", rc.AcceptedAt, today)
	}
	if want := rc.AcceptedAt.Add(steps); !rc.DueAt.Equal(want) {
		s.t.Errorf("due %s, want %s (%s)", rc.DueAt.In(egov.Almaty), want.In(egov.Almaty), lines)
	}
}

// G-A (003:835-880): S7 filed in Karaganda by the applicant's daughter with
// a notarised power for every service; ЕНИС confirms it, АРМ РШЭП answers
// with the certificate, and the daughter collects it at the counter.
func TestFlowGAWithARepresentative(t *testing.T) {
	s := newCounterStack(t)
	token := s.login(karaganda)
	in := counter.IntakeForm{Service: "tsa-membership-certificate", Applicant: father,
		Representative: &counter.Representative{IIN: daughter, Surname: "ОМАРОВА", GivenName: "АЙГҮЛ", PowerOfAttorney: "ENIS-2026-KRG-0001873"}}
	rc := s.file(karaganda, token, in)
	if rc.Kind != "acceptance" || rc.Applicant == father || rc.Representative == "" || !strings.HasPrefix(rc.Number, "krg-con-01-2026-") {
		t.Fatalf("receipt %+v", rc)
	}
	// 003:835-880 with the provider's steps of 003:733-754, as the
	// catalogue holds them: 28 minutes.
	s.wantDue(rc, 28*time.Minute, "S7 Karaganda at a counter")
	f := s.awaitState(token, rc.RequestID, counter.StateReady)
	if f.Outcome != "certificate" || f.Flow != "G-A" || f.Recipient != regionaldesk.SenderID {
		t.Fatalf("filing %+v", f)
	}
	// The result is АРМ РШЭП's, signed by its authorised person.
	req, _ := http.NewRequest("GET", s.api.URL+counter.APIPrefix+"/filings/"+rc.RequestID+"/result", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if res, err := s.verifier.Verify(context.Background(), doc); err != nil || res.Signer.BIN != "070540000713" {
		t.Fatalf("result: %v", err)
	}
	s.wantInCabinet(father, rc, "completed")
	// The applicant is told by SMS, at the phone the register holds.
	if n := s.awaitNotice(token, rc.RequestID); n.Status != counter.NoticeDelivered || n.MessageID == "" || n.Phone == "+77027654321" {
		t.Fatalf("notice %+v", n)
	}
	phone, err := sms.Outbox(context.Background(), s.rdb.Client, s.rdb.Prefix, "+77027654321")
	if err != nil || len(phone) != 1 || !strings.Contains(phone[0].Text, "Отдел № 1 г. Караганды") || !strings.Contains(phone[0].Text, "Результат") ||
		!strings.Contains(phone[0].Text, "нәтижесі") || len([]rune(phone[0].Text)) > sms.MaxText || phone[0].Sender != counter.SenderID {
		t.Fatalf("the applicant's phone: %+v %v", phone, err)
	}
	var ready struct{ Filings []counter.Filing }
	s.call("GET", "/ready", token, "", nil, &ready)
	if len(ready.Filings) != 1 || ready.Filings[0].ID != rc.RequestID {
		t.Fatalf("ready queue %+v", ready)
	}
	// Only the applicant or his representative receives it, once.
	var p counter.Problem
	// An applicant without a phone in the register: the notice says so.
	child := s.file(karaganda, token, counter.IntakeForm{Service: "tsa-membership-certificate", Applicant: "100203500443"})
	if n := s.awaitNotice(token, child.RequestID); n.Status != counter.NoticeNoPhone {
		t.Fatalf("notice without a phone: %+v", n)
	}
	if code := s.call("POST", "/filings/"+rc.RequestID+"/hand-out", token, "application/json", mustJSON(map[string]string{"iin": neighbour}), &p); code != http.StatusConflict || p.Code != egov.CodeHandOutRefused {
		t.Fatalf("hand-out to a stranger: %d %+v", code, p)
	}
	var out counter.Filing
	if code := s.call("POST", "/filings/"+rc.RequestID+"/hand-out", token, "application/json", mustJSON(map[string]string{"iin": daughter}), &out); code != http.StatusOK {
		t.Fatalf("hand-out: %d", code)
	}
	if out.State != counter.StateHandedOut || out.HandOut == nil || out.HandOut.To != "representative" || out.HandOut.By != karaganda.login {
		t.Fatalf("handed out: %+v", out)
	}
	s.wantHandOutInCabinet(father, rc.RequestID, "representative")
	if code := s.call("POST", "/filings/"+rc.RequestID+"/hand-out", token, "application/json", mustJSON(map[string]string{"iin": daughter}), &p); code != http.StatusConflict {
		t.Fatalf("a second hand-out: %d", code)
	}
	var after struct{ Filings []counter.Filing }
	s.call("GET", "/ready", token, "", nil, &after)
	if len(after.Filings) != 1 || after.Filings[0].ID != child.RequestID {
		t.Fatalf("the queue after the hand-out: %+v, want the child's result only", after)
	}
	// Forward only, from the acceptance to the hand-out (the provider's
	// notice and the bus's answer to the sending race, so either may be
	// written first, and one step may be taken by another's write).
	order := map[string]int{counter.StateAccepted: 0, counter.StateSent: 1, counter.StateInProgress: 2, counter.StateReady: 3, counter.StateHandedOut: 4}
	h := out.History
	if len(h) < 3 || h[0].State != counter.StateAccepted || h[len(h)-1].State != counter.StateHandedOut {
		t.Fatalf("history %+v", h)
	}
	for i := 1; i < len(h); i++ {
		if order[h[i].State] <= order[h[i-1].State] {
			t.Fatalf("history moves back: %+v", h)
		}
	}
}

// G-A refuses at intake, naming the register, when ГБД ФЛ or ЕНИС has no
// data (P4): nothing is kept, signed or sent.
func TestFlowGARefusesWhatTheRegistersDoNotHold(t *testing.T) {
	s := newCounterStack(t)
	token := s.login(karaganda)
	rep := func(iin, number string) *counter.Representative {
		return &counter.Representative{IIN: iin, Surname: "ФАМИЛИЯ", GivenName: "ИМЯ", PowerOfAttorney: number}
	}
	tests := []struct {
		name     string
		in       counter.IntakeForm
		register counter.Register
	}{
		{"applicant not in ГБД ФЛ", counter.IntakeForm{Service: "tsa-membership-certificate", Applicant: nobody}, counter.RegisterPersons},
		{"power not in ЕНИС", counter.IntakeForm{Service: "tsa-membership-certificate", Applicant: father, Representative: rep(daughter, "ENIS-2026-KRG-7777777")}, counter.RegisterPowers},
		{"expired power", counter.IntakeForm{Service: "tsa-membership-certificate", Applicant: father, Representative: rep(student, "ENIS-2024-KRG-0000542")}, counter.RegisterPowers},
		{"revoked power", counter.IntakeForm{Service: "tsa-membership-certificate", Applicant: father, Representative: rep(neighbour, "ENIS-2026-KRG-0001510")}, counter.RegisterPowers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, p := s.intake(token, tt.in)
			if code != http.StatusUnprocessableEntity || p.Code != egov.CodeDataUnobtainable || p.Register != tt.register || p.Messages.RU == "" || p.Messages.KK == "" {
				t.Fatalf("%d %+v", code, p)
			}
		})
	}
	keys, err := s.rdb.Keys(context.Background(), s.rdb.Prefix+"gk:*draft*")
	if err != nil || len(keys) != 0 {
		t.Fatalf("drafts kept for refused intakes: %v %v", keys, err)
	}
}

// A scanned PDF, as the counter's scanner makes it.
var scan = []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")

// G-B (004:368-388): S1 filed in Almaty by the applicant herself with her
// identity card scanned; the labour-market system registers her. An
// incomplete package is refused with the refusal-to-accept receipt.
func TestFlowGBForJobSeekerRegistration(t *testing.T) {
	s := newCounterStack(t)
	token := s.login(almaty)
	in := counter.IntakeForm{Service: "job-seeker-registration", Applicant: daughter, Phone: "+77011234567",
		Form: map[string]string{"education": "higher"}}
	code, _, p := s.intake(token, in)
	if code != http.StatusUnprocessableEntity || p.Code != egov.CodeAttachmentMissing || p.Receipt == nil ||
		p.Receipt.Kind != "refusal-to-accept" || strings.Join(p.Receipt.Missing, ",") != "identity-document" {
		t.Fatalf("incomplete package: %d %+v", code, p)
	}
	in.Documents = []counter.Scan{{Kind: "identity-document", FileName: "udv.pdf", Content: scan, Expires: "2026-11-30"}}
	code, _, p = s.intake(token, in)
	if code != http.StatusUnprocessableEntity || p.Receipt == nil || strings.Join(p.Receipt.Expired, ",") != "identity-document" || len(p.Receipt.Missing) != 0 {
		t.Fatalf("an expired identity card: %d %+v", code, p)
	}
	in.Documents = []counter.Scan{{Kind: "identity-document", FileName: "udv.pdf", Content: scan, Expires: "2030-05-01"}}
	rc := s.file(almaty, token, in)
	// 004:368-388: 2+1+2+2+1+10+5 min and 5 min of п.10; a district
	// office of Almaty adds nothing (004 has no such rule).
	s.wantDue(rc, 28*time.Minute, "S1 Almaty city at a counter, G-B")
	f := s.awaitState(token, rc.RequestID, counter.StateReady)
	if f.Outcome != "registered" || f.Flow != "G-B" || f.Recipient != labour.SenderID || f.ResultNumber == "" {
		t.Fatalf("filing %+v", f)
	}
	s.wantInCabinet(daughter, rc, "completed")
	// The other office's operator sees none of it.
	other := s.login(karaganda)
	var pr counter.Problem
	if code := s.call("GET", "/filings/"+rc.RequestID, other, "", nil, &pr); code != http.StatusNotFound {
		t.Fatalf("another office's filing: %d", code)
	}
	var out counter.Filing
	if code := s.call("POST", "/filings/"+rc.RequestID+"/hand-out", token, "application/json", mustJSON(map[string]string{"iin": daughter}), &out); code != http.StatusOK || out.HandOut.To != "applicant" {
		t.Fatalf("hand-out: %d %+v", code, out)
	}
	s.wantHandOutInCabinet(daughter, rc.RequestID, "applicant")
	// The portal believes a hand-out only from the office that filed it.
	elsewhere := document.HandOut{RequestID: rc.RequestID, Applicant: daughter, To: document.HandedToApplicant, Office: "krg-con-01", At: today}
	var m soap.AsyncMessage
	m.MessageInfo = soap.AsyncMessageInfo{MessageID: uuid.NewString(), CorrelationID: uuid.NewString(), ServiceID: "egov-portal.counter-handout",
		MessageType: soap.TypeRequest, Sender: soap.SenderInfo{SenderID: counter.SenderID}}
	m.MessageData.Data = string(elsewhere.Document())
	if err := s.portal.HandleAnswer(context.Background(), m); egov.ErrorCode(err) != egov.CodeAnswerUnmatched {
		t.Fatalf("a hand-out told for another office: %v", err)
	}
	// G-B asks no register of the power (004:374-380): a representative
	// with a power ЕНИС does not hold, checked on paper by the operator,
	// files for the applicant, and the provider does not ask ЕНИС either.
	in.Applicant = student
	in.Representative = &counter.Representative{IIN: neighbour, Surname: "СЕЙТҚАЛИЕВА", GivenName: "ГҮЛНАР",
		PowerOfAttorney: "N-2026-00417", Notary: "нотариус г. Алматы Б. С. Ахметов", Until: "2027-06-30"}
	rc = s.file(almaty, token, in)
	if f := s.awaitState(token, rc.RequestID, counter.StateReady); f.Outcome != "registered" {
		t.Fatalf("filed by a representative in G-B: %+v", f)
	}
}

// What an operator submits must be his draft, signed by him with the
// State Corporation's right to sign; a session is needed for everything;
// a login that keeps failing waits.
func TestSubmissionIsTheOperatorsOwn(t *testing.T) {
	s := newCounterStack(t)
	token := s.login(karaganda)
	in := counter.IntakeForm{Service: "tsa-membership-certificate", Applicant: father}
	code, d, _ := s.intake(token, in)
	if code != http.StatusCreated {
		t.Fatalf("intake: %d", code)
	}
	sign := func(key *signing.Signer, doc string) []byte {
		signed, err := key.Sign([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return signed
	}
	employee, err := pki.Clone("../fixtures/pki", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	iss, err := employee.Issue(pki.IssueOptions{IIN: karaganda.iin, Name: "ОПЕРАТОРОВ ОПЕРАТОР", Kind: pki.KindOrg, BIN: stateCorporationBIN,
		Organization: "НАО «ГК» (TEST)", Role: signing.KeyUserEmployee,
		NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		body  []byte
		code  egov.Code
	}{
		{"no session", "", sign(s.keys[karaganda.iin], d.Document), egov.CodeAuthorizationRefused},
		{"signed by another operator", token, sign(s.keys[almaty.iin], d.Document), egov.CodeIINMismatch},
		{"signed without the right to sign", token, sign(&signing.Signer{Key: iss.Key, Certificate: iss.Certificate}, d.Document), egov.CodeSignerNotAuthorised},
		{"another document signed", token, sign(s.keys[karaganda.iin], strings.Replace(d.Document, father, daughter, -1)), egov.CodeFormInvalid},
		{"unsigned", token, []byte(d.Document), egov.CodeSignatureMissing},
		{"another operator's draft", s.login(almaty), sign(s.keys[almaty.iin], d.Document), egov.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p counter.Problem
			s.call("POST", "/intakes/"+d.ID+"/submission", tt.token, "application/xml", tt.body, &p)
			if p.Code != tt.code {
				t.Fatalf("got %+v, want %s", p, tt.code)
			}
		})
	}
	// The right submission, twice: one filing, one receipt.
	var first, second counter.Receipt
	s.call("POST", "/intakes/"+d.ID+"/submission", token, "application/xml", sign(s.keys[karaganda.iin], d.Document), &first)
	s.call("POST", "/intakes/"+d.ID+"/submission", token, "application/xml", sign(s.keys[karaganda.iin], d.Document), &second)
	if first.Number == "" || first.Number != second.Number {
		t.Fatalf("receipts %q and %q", first.Number, second.Number)
	}
	for i := 0; i < 5; i++ {
		var p counter.Problem
		s.call("POST", "/sessions", "", "application/json", mustJSON(map[string]string{"login": almaty.login, "password": "wrong"}), &p)
	}
	var p counter.Problem
	if code := s.call("POST", "/sessions", "", "application/json", mustJSON(map[string]string{"login": almaty.login, "password": almaty.password}), &p); code != http.StatusTooManyRequests || p.Code != egov.CodeRateLimited {
		t.Fatalf("the sixth login after five failures: %d %+v", code, p)
	}
}

// wantInCabinet waits until the applicant's cabinet shows the request
// filed at the counter, in state, with the receipt's due date, the
// acceptance at the counter and the provider's result.
func (s *counterStack) wantInCabinet(iin string, rc counter.Receipt, state gateway.State) {
	s.t.Helper()
	ctx := context.Background()
	var r *gateway.Request
	for i := 0; i < 1000; i++ {
		if got, err := s.portal.RequestOf(ctx, iin, rc.RequestID); err == nil && got.State == state {
			r = got
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r == nil {
		got, err := s.portal.RequestOf(ctx, iin, rc.RequestID)
		s.t.Fatalf("the cabinet's request: %+v %v, want %s", got, err, state)
	}
	if r.Channel != gateway.ChannelStateCorporation || r.Office != rc.Office || !r.DueAt.Equal(rc.DueAt) || r.Outcome == "" {
		s.t.Fatalf("the cabinet's request %+v, receipt %+v", r, rc)
	}
	page, err := s.portal.Cabinet(ctx, iin, "", 50, false)
	if err != nil {
		s.t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, m := range page.Messages {
		if m.RequestID == rc.RequestID {
			kinds[m.Kind] = true
		}
	}
	if !kinds["accepted"] || !(kinds["result"] || kinds["refusal"]) {
		s.t.Fatalf("cabinet messages of the filing: %v", kinds)
	}
}

// wantHandOutInCabinet waits until the citizen's cabinet says the result
// of the filing was handed out at the counter, to whom, and the request's
// history has it.
func (s *counterStack) wantHandOutInCabinet(iin, id, to string) {
	s.t.Helper()
	ctx := context.Background()
	for i := 0; i < 1000; i++ {
		page, err := s.portal.Cabinet(ctx, iin, "", 50, false)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, m := range page.Messages {
			if m.RequestID == id && m.Kind == "handed-out" {
				if m.Data["to"] != to || m.Title.KK == "" || !strings.Contains(m.Text.RU, "выдан") {
					s.t.Fatalf("the hand-out's message %+v, want to %s", m, to)
				}
				r, err := s.portal.RequestOf(ctx, iin, id)
				if err != nil || r.History[len(r.History)-1].State != "handed-out" {
					s.t.Fatalf("the request's history %+v %v", r, err)
				}
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("the cabinet does not say %s was handed out", id)
}

// The portal files in a cabinet only what it verifies: a filing signed by
// an operator of a counter it knows, sent by that counter; a result handed
// on by the counter that filed the request; its word of a hand-out only of
// a request it filed.
func TestPortalBelievesOnlyTheCounter(t *testing.T) {
	s := newCounterStack(t)
	ctx := context.Background()
	filing := &document.Request{RequestID: uuid.NewString(), ServiceCode: "tsa-membership-certificate", Region: "karaganda", IssuedAt: today,
		Applicant: document.Applicant{IIN: father, Surname: "ОМАРОВ", GivenName: "ДАНИЯР"},
		Filing:    &document.Filing{Channel: document.ChannelStateCorporation, Office: "krg-con-01", OperatorIIN: karaganda.iin}}
	signedBy := func(key *signing.Signer, doc []byte) string {
		signed, err := key.Sign(doc)
		if err != nil {
			t.Fatal(err)
		}
		return string(signed)
	}
	citizen, err := signing.LoadSigner("../fixtures/pki/keys/citizen2.p12", pki.DefaultPassword)
	if err != nil {
		t.Fatal(err)
	}
	desk, err := signing.LoadSigner("../fixtures/pki/keys/regionaldesk.p12", pki.DefaultPassword)
	if err != nil {
		t.Fatal(err)
	}
	result := (&document.Result{RequestID: uuid.NewString(), ServiceCode: "tsa-membership-certificate", Outcome: document.OutcomeCertificate,
		ProviderBIN: "070540000713", Applicant: father, Number: "TSA-2026-000001", Date: "2026-12-03", Kind: "belongs"}).Document()
	handOut := document.HandOut{RequestID: filing.RequestID, Applicant: father, To: document.HandedToApplicant, Office: "krg-con-01", At: today}
	message := func(sender, service, data string) soap.AsyncMessage {
		var m soap.AsyncMessage
		m.MessageInfo = soap.AsyncMessageInfo{MessageID: uuid.NewString(), CorrelationID: uuid.NewString(), ServiceID: service,
			MessageType: soap.TypeRequest, Sender: soap.SenderInfo{SenderID: sender}}
		m.MessageData.Data = data
		return m
	}
	tests := []struct {
		name string
		m    soap.AsyncMessage
		code egov.Code
	}{
		{"a filing from a system that files for nobody", message("ais-rynok-truda", "egov-portal.counter-filing", signedBy(s.keys[karaganda.iin], filing.Document())), egov.CodeAnswerUnmatched},
		{"a filing signed by a citizen", message(counter.SenderID, "egov-portal.counter-filing", signedBy(citizen, filing.Document())), egov.CodeBINMismatch},
		{"a filing signed by an operator it does not name", message(counter.SenderID, "egov-portal.counter-filing", signedBy(s.keys[almaty.iin], filing.Document())), egov.CodeIINMismatch},
		// refused for now, not for good: a filing and its result are two
		// messages that may come in either order
		{"a result of a request not filed (yet)", message(counter.SenderID, "egov-portal.counter-result", signedBy(desk, result)), egov.CodeInternal},
		{"a hand-out from a system that files for nobody", message("ais-rynok-truda", "egov-portal.counter-handout", string(handOut.Document())), egov.CodeAnswerUnmatched},
		{"a hand-out of a request not filed (yet)", message(counter.SenderID, "egov-portal.counter-handout", string(handOut.Document())), egov.CodeInternal},
		{"a hand-out to a stranger", message(counter.SenderID, "egov-portal.counter-handout", strings.Replace(string(handOut.Document()), "applicant", "neighbour", 1)), egov.CodeAnswerUnmatched},
		{"a hand-out with a DTD", message(counter.SenderID, "egov-portal.counter-handout", `<!DOCTYPE x>`+string(handOut.Document())), egov.CodeAnswerUnmatched},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.portal.HandleAnswer(ctx, tt.m); egov.ErrorCode(err) != tt.code {
				t.Fatalf("got %v, want %s", err, tt.code)
			}
		})
	}
	if r, err := s.portal.RequestOf(ctx, father, filing.RequestID); err == nil {
		t.Fatalf("filed: %+v", r)
	}
}

// Wrong passwords sent at once are counted as they come: no more than the
// allowance is ever checked.
func TestLoginThrottleCountsParallelAttempts(t *testing.T) {
	s := newCounterStack(t)
	codes := make(chan int, 20)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var p counter.Problem
			codes <- s.call("POST", "/sessions", "", "application/json", mustJSON(map[string]string{"login": karaganda.login, "password": "wrong"}), &p)
		}()
	}
	wg.Wait()
	close(codes)
	got := map[int]int{}
	for c := range codes {
		got[c]++
	}
	if got[http.StatusUnauthorized] != 5 || got[http.StatusTooManyRequests] != 15 {
		t.Fatalf("20 wrong passwords at once: %v, want 5 checked and 15 refused", got)
	}
}

// A draft whose scans are gone cannot be filed: a receipt is given only
// for what can be sent.
func TestDraftWithoutItsScansIsNotFiled(t *testing.T) {
	s := newCounterStack(t)
	token := s.login(almaty)
	in := counter.IntakeForm{Service: "job-seeker-registration", Applicant: daughter, Form: map[string]string{"education": "higher"},
		Documents: []counter.Scan{{Kind: "identity-document", FileName: "udv.pdf", Content: scan, Expires: "2030-05-01"}}}
	code, d, _ := s.intake(token, in)
	if code != http.StatusCreated {
		t.Fatalf("intake: %d", code)
	}
	ctx := context.Background()
	files, err := s.rdb.Keys(ctx, s.rdb.Prefix+"gk:*draft:"+d.ID+":file:*")
	if err != nil || len(files) != 1 {
		t.Fatalf("scans %v %v", files, err)
	}
	s.rdb.Client.Del(ctx, files...)
	signed, err := s.keys[almaty.iin].Sign([]byte(d.Document))
	if err != nil {
		t.Fatal(err)
	}
	var p counter.Problem
	if code := s.call("POST", "/intakes/"+d.ID+"/submission", token, "application/xml", signed, &p); code == http.StatusCreated || p.Code != egov.CodeRequestStale {
		t.Fatalf("submission without its scans: %d %+v", code, p)
	}
}

// A filing the provider's system rejects (here: it takes no counter's
// filings) never gets a result: the workstation shows it stuck, with the
// bus's reason, instead of "sent" forever.
func TestRejectedFilingIsShownStuck(t *testing.T) {
	s := newCounterStackWith(t, stackOptions{providersRefuseFilings: true})
	token := s.login(karaganda)
	rc := s.file(karaganda, token, counter.IntakeForm{Service: "tsa-membership-certificate", Applicant: father})
	var f counter.Filing
	for i := 0; i < 500 && !strings.HasPrefix(f.LastError, counter.StuckPrefix); i++ {
		time.Sleep(20 * time.Millisecond)
		s.call("GET", "/filings/"+rc.RequestID, token, "", nil, &f)
	}
	if !strings.HasPrefix(f.LastError, counter.StuckPrefix) || !strings.Contains(f.LastError, "form-invalid") || f.State != counter.StateSent {
		t.Fatalf("a rejected filing: %+v", f)
	}
}

// A notice the SMS gateway does not take is tried again, a few times, and
// then shown failed on the filing, for the operator to call instead.
func TestUndeliveredNoticeIsShownFailed(t *testing.T) {
	s := newCounterStackWith(t, stackOptions{noSMSGateway: true})
	token := s.login(karaganda)
	rc := s.file(karaganda, token, counter.IntakeForm{Service: "tsa-membership-certificate", Applicant: father})
	n := s.awaitNotice(token, rc.RequestID)
	if n.Status != counter.NoticeFailed || n.Attempts != 5 || n.LastError == "" {
		t.Fatalf("notice %+v", n)
	}
}

// What no operator may enter is refused at once, as a form error the
// operator can correct, never as a register that is down.
func TestIntakeRefusesWhatNoOperatorMayEnter(t *testing.T) {
	s := newCounterStack(t)
	krg, ala := s.login(karaganda), s.login(almaty)
	rep := func(iin, number string) *counter.Representative {
		return &counter.Representative{IIN: iin, Surname: "ФАМИЛИЯ", GivenName: "ИМЯ", PowerOfAttorney: number}
	}
	paper := func(iin, until string) *counter.Representative {
		r := rep(iin, "N-2026-1")
		r.Notary, r.Until = "нотариус", until
		return r
	}
	s1 := func(r *counter.Representative, name string) counter.IntakeForm {
		return counter.IntakeForm{Service: "job-seeker-registration", Applicant: daughter, Form: map[string]string{"education": "higher"}, Representative: r,
			Documents: []counter.Scan{{Kind: "identity-document", FileName: name, Content: scan, Expires: "2030-05-01"}}}
	}
	tests := []struct {
		name, token string
		in          counter.IntakeForm
	}{
		{"a power's number ЕНИС cannot read", krg, counter.IntakeForm{Service: "tsa-membership-certificate", Applicant: father, Representative: rep(daughter, "enis 1873 ")}},
		{"an empty power's number", krg, counter.IntakeForm{Service: "tsa-membership-certificate", Applicant: father, Representative: rep(daughter, "")}},
		{"a paper power that ran out (G-B)", ala, s1(paper(neighbour, "2020-01-01"), "udv.pdf")},
		{"the operator as his client's representative", ala, s1(paper(almaty.iin, "2027-01-01"), "udv.pdf")},
		{"the operator filing for himself", krg, counter.IntakeForm{Service: "tsa-membership-certificate", Applicant: karaganda.iin}},
		{"a file name that hides its type", ala, s1(nil, "a\u202efdp.exe")},
		{"a file name with a line break", ala, s1(nil, "udv\r\n.pdf")},
		{"a file name that is a path", ala, s1(nil, "../udv.pdf")},
		{"a name that needed replacing", ala, s1(paper(neighbour, "2027-01-01"), "udv.pdf")},
	}
	tests[len(tests)-1].in.Representative.GivenName = "ИМЯ\uFFFD"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, p := s.intake(tt.token, tt.in); code != http.StatusUnprocessableEntity || p.Code != egov.CodeFormInvalid {
				t.Fatalf("%d %+v", code, p)
			}
		})
	}
	// A few drafts may wait for the operator's signature, not more.
	for i := 0; i < 3; i++ {
		if code, _, p := s.intake(krg, counter.IntakeForm{Service: "tsa-membership-certificate", Applicant: father}); code != http.StatusCreated {
			t.Fatalf("draft %d: %d %+v", i+1, code, p)
		}
	}
	if code, _, p := s.intake(krg, counter.IntakeForm{Service: "tsa-membership-certificate", Applicant: father}); code != http.StatusTooManyRequests || p.Code != egov.CodeRateLimited {
		t.Fatalf("a fourth open draft: %d %+v", code, p)
	}
}

// A draft submitted many times at once is filed once, and every
// submission gets its one receipt; a body that is not the operator's
// signed draft gets none, whatever was filed before.
func TestParallelSubmissionsGetOneReceipt(t *testing.T) {
	s := newCounterStack(t)
	token := s.login(karaganda)
	code, d, _ := s.intake(token, counter.IntakeForm{Service: "tsa-membership-certificate", Applicant: father})
	if code != http.StatusCreated {
		t.Fatalf("intake: %d", code)
	}
	signed, err := s.keys[karaganda.iin].Sign([]byte(d.Document))
	if err != nil {
		t.Fatal(err)
	}
	numbers := make(chan string, 10)
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rc counter.Receipt
			if code := s.call("POST", "/intakes/"+d.ID+"/submission", "bearer "+token, "application/xml", signed, &rc); code != http.StatusCreated {
				numbers <- fmt.Sprintf("status %d", code)
				return
			}
			numbers <- rc.Number
		}()
	}
	wg.Wait()
	close(numbers)
	seen := map[string]int{}
	for n := range numbers {
		seen[n]++
	}
	if len(seen) != 1 || seen["krg-con-01-2026-000001"] != 10 {
		t.Fatalf("receipts of 10 submissions at once: %v, want one number 10 times", seen)
	}
	var p counter.Problem
	if s.call("POST", "/intakes/"+d.ID+"/submission", token, "application/xml", []byte(d.Document), &p); p.Code != egov.CodeSignatureMissing {
		t.Fatalf("an unsigned body after the filing: %+v", p)
	}
	if code := s.call("GET", "/filings/"+strings.ToUpper(d.ID), token, "", nil, &p); code != http.StatusNotFound || strings.Contains(p.Detail, strings.ToUpper(d.ID)) {
		t.Fatalf("an id not as the workstation writes it: %d %+v", code, p)
	}
}

// The term rules of 001 (001:266-272) on a counter channel: at a district
// office 5 working days more, and the day of acceptance not counted. Given
// to Almaty's G-B channel of S1 (28 minutes of steps), a filing accepted at
// the district office ala-con-03 on Thursday 03.12.2026 10:00 counts from
// Friday 09:00; 28 minutes and 5 working days (09:00–18:30, break
// 13:00–14:30) end on Friday 11.12.2026 at 09:28.
func TestCounterTermRulesOf001(t *testing.T) {
	s := newCounterStackWith(t, stackOptions{catalogue: func(c *gateway.Catalogue) {
		svc, err := c.Lookup("job-seeker-registration")
		if err != nil {
			t.Fatal(err)
		}
		ch := svc.Regions["almaty-city"].Channels[gateway.ChannelStateCorporation]
		ch.DistrictOfficeExtraWorkingDays, ch.AcceptanceDayNotCounted = 5, true
	}})
	token := s.login(almaty)
	rc := s.file(almaty, token, counter.IntakeForm{Service: "job-seeker-registration", Applicant: daughter, Form: map[string]string{"education": "higher"},
		Documents: []counter.Scan{{Kind: "identity-document", FileName: "udv.pdf", Content: scan, Expires: "2030-05-01"}}})
	if want := time.Date(2026, 12, 11, 9, 28, 0, 0, egov.Almaty); !rc.DueAt.Equal(want) {
		t.Fatalf("due %s, want %s", rc.DueAt.In(egov.Almaty), want)
	}
}
