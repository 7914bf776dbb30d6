package gateway_test

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
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"egov"
	"egov/document"
	"egov/gateway"
	"egov/internal/redistest"
	"egov/registers/mobile"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
	"egov/sms"
)

const (
	citizenIIN  = "791028302728"
	citizen2IIN = "900101300811"
	providerBIN = "940140000385"
	passwordOK  = "Samal-2026-parol"
)

var (
	portalSender = soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"}
	labourSender = soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "labour-secret"}
)

// clock is the adjustable time of the gateway under test: a Tuesday
// morning in Almaty, inside every fixture certificate's validity.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.now = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// switchableBus is the real in-process bus behind a switch that makes it
// unreachable, for the outbox tests.
type switchableBus struct {
	shep.Client
	mu      sync.Mutex
	down    bool
	smsDown bool
}

var errBusDown = errors.New("dial tcp: connection refused")

func (s *switchableBus) isDown() bool   { s.mu.Lock(); defer s.mu.Unlock(); return s.down }
func (s *switchableBus) SetDown(v bool) { s.mu.Lock(); s.down = v; s.mu.Unlock() }
func (s *switchableBus) SendMessage(ctx context.Context, r *soap.SendMessage) (*soap.SendMessageResponse, error) {
	if s.isDown() {
		return nil, errBusDown
	}
	return s.Client.SendMessage(ctx, r)
}

// SetSMSDown makes the SMS gateway unreachable through the bus.
func (s *switchableBus) SetSMSDown(v bool) { s.mu.Lock(); s.smsDown = v; s.mu.Unlock() }
func (s *switchableBus) SendSync(ctx context.Context, r *soap.SyncSendMessage) (*soap.SyncSendMessageResponse, error) {
	s.mu.Lock()
	down := s.smsDown && r.Request.RequestInfo.ServiceID == sms.ServiceID
	s.mu.Unlock()
	if down {
		return nil, errBusDown
	}
	return s.Client.SendSync(ctx, r)
}
func (s *switchableBus) PutAttachment(ctx context.Context, sender soap.SenderInfo, data []byte) (string, error) {
	if s.isDown() {
		return "", errBusDown
	}
	return s.Client.PutAttachment(ctx, sender, data)
}

type env struct {
	t       testing.TB
	app     *gateway.App
	bus     *shep.Bus
	switch_ *switchableBus
	srv     *httptest.Server
	clock   *clock
	cancel  context.CancelFunc
	redis   *redistest.Redis
	sms     *sms.Gateway
	logs    *logBuffer
}

// logBuffer collects log output; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *logBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

func newEnv(t testing.TB, tune ...func(*shep.Config)) *env {
	t.Helper()
	return newEnvWith(t, nil, tune...)
}

// newEnvWith is newEnv with the portal's configuration changed by gw.
func newEnvWith(t testing.TB, gw func(*gateway.Config), tune ...func(*shep.Config)) *env {
	t.Helper()
	return newEnvOn(t, redistest.New(t), gw, tune...)
}

// newEnvOn is newEnvWith on a given Redis.
func newEnvOn(t testing.TB, r *redistest.Redis, gw func(*gateway.Config), tune ...func(*shep.Config)) *env {
	t.Helper()
	trust, err := signing.LoadTrustDir("../fixtures/pki/trust")
	if err != nil {
		t.Fatal(err)
	}
	crl := &signing.CRLSet{Sources: []string{"../fixtures/pki/crl.pem"}, Trust: trust}
	if err := crl.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Date(2026, 11, 24, 10, 0, 0, 0, egov.Almaty)}
	verifier := &signing.Verifier{Trust: trust, Revocation: &signing.Revocation{CRL: crl}, Now: c.Now}
	routing, err := shep.LoadRouting("../fixtures/shep/routing.json")
	if err != nil {
		t.Fatal(err)
	}
	// Every log line of the bus, the SMS gateway and the portal is kept, so
	// that tests can check what never reaches a log (one-time codes).
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	busCfg := shep.Config{KeyPrefix: r.Prefix, Verifier: verifier, Log: log}
	for _, f := range tune {
		f(&busCfg)
	}
	bus, err := shep.New(r.Client, routing, busCfg)
	if err != nil {
		t.Fatal(err)
	}
	// The mobile citizens' register and the SMS gateway answer on the
	// bus's sync channel, as in egovctl up.
	bus.HandleSync(mobile.ServiceID, mobile.Default())
	smsGateway := sms.New(r.Client, sms.Config{KeyPrefix: r.Prefix, Now: c.Now, Log: log})
	bus.HandleSync(sms.ServiceID, smsGateway)
	sw := &switchableBus{Client: bus}
	gwCfg := gateway.Config{
		KeyPrefix: r.Prefix, Verifier: verifier, Bus: sw, Sender: portalSender,
		ProviderBINs: map[string]string{"ais-rynok-truda": providerBIN},
		RelayBackoff: 20 * time.Millisecond, Now: c.Now, Log: log,
	}
	if gw != nil {
		gw(&gwCfg)
	}
	app, err := gateway.New(r.Client, gwCfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(conformance(t, app.Handler(gateway.HTTPOptions{})))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { app.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
		_ = bus.Close()
	})
	return &env{t: t, app: app, bus: bus, switch_: sw, srv: srv, clock: c, cancel: cancel, redis: r, sms: smsGateway, logs: logs}
}

// call sends a JSON (or raw) request and decodes the JSON answer.
func (e *env) call(method, path, token string, body any, out any) (int, http.Header) {
	e.t.Helper()
	return e.callVia(http.DefaultClient, method, path, token, body, out)
}

// callVia is call through client.
func (e *env) callVia(client *http.Client, method, path, token string, body any, out any) (int, http.Header) {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ct = bytes.NewReader(b), "application/xml"
	default:
		data, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(data), "application/json"
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.doVia(client, req, out)
}

func (e *env) do(req *http.Request, out any) (int, http.Header) {
	e.t.Helper()
	return e.doVia(http.DefaultClient, req, out)
}

// doVia is do through client (one with another source address, say).
func (e *env) doVia(client *http.Client, req *http.Request, out any) (int, http.Header) {
	e.t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			if s, ok := out.(*string); ok {
				*s = string(data)
			} else {
				e.t.Fatalf("%s %s: %v\n%s", req.Method, req.URL.Path, err, data)
			}
		}
	}
	return resp.StatusCode, resp.Header
}

type problem struct {
	Status   int               `json:"status"`
	Code     string            `json:"code"`
	Title    string            `json:"title"`
	Links    map[string]string `json:"links"`
	Messages map[string]string `json:"messages"`
}

// keyOf names the fixture signing key of a test citizen.
var keyOf = map[string]string{citizenIIN: "citizen", citizen2IIN: "citizen2"}

// register opens the citizen's account the way a citizen with a digital
// signature does: signing the registration challenge.
func (e *env) register(iin string) {
	e.t.Helper()
	body := map[string]string{"iin": iin, "password": passwordOK, "signedChallenge": string(e.signedChallenge(keyOf[iin]))}
	if code, _ := e.call("POST", "/api/v1/accounts", "", body, nil); code != http.StatusCreated {
		e.t.Fatalf("register %s: %d", iin, code)
	}
}

// signedChallenge fetches a challenge and signs it with a fixture key.
func (e *env) signedChallenge(key string) []byte {
	e.t.Helper()
	var ch struct{ Document string }
	if code, _ := e.call("GET", "/api/v1/auth/challenge", "", nil, &ch); code != http.StatusOK {
		e.t.Fatalf("challenge: %d", code)
	}
	signed, err := signer(e.t, key).Sign([]byte(ch.Document))
	if err != nil {
		e.t.Fatal(err)
	}
	return signed
}

func (e *env) login(iin string) string {
	e.t.Helper()
	var s struct{ Token string }
	if code, _ := e.call("POST", "/api/v1/sessions", "", map[string]string{"iin": iin, "password": passwordOK}, &s); code != http.StatusCreated {
		e.t.Fatalf("login %s: %d", iin, code)
	}
	return s.Token
}

func signer(t testing.TB, name string) *signing.Signer {
	t.Helper()
	s, err := signing.LoadSigner(filepath.Join("../fixtures/pki/keys", name+".p12"), "Qwerty12")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type file struct {
	name, mime string
	data       []byte
}

var idScan = file{"udostoverenie.pdf", "application/pdf", []byte("%PDF-1.7 scan of an identity card")}

// requestDoc builds a signed job-seeker registration of iin, changed by
// mutate before it is written and signed.
func requestDoc(t testing.TB, key, iin string, issued time.Time, files []file, mutate func(*document.Request)) ([]byte, string) {
	t.Helper()
	expires := time.Date(2030, 1, 1, 0, 0, 0, 0, egov.Almaty)
	req := &document.Request{RequestID: uuid.NewString(), ServiceCode: "job-seeker-registration", Region: "east-kazakhstan", IssuedAt: issued,
		Applicant: document.Applicant{IIN: iin, Surname: "ЖАҚСЫЛЫҚОВ", GivenName: "АЙДОС", Phone: "+77010000000"},
		Form:      map[string]string{"education": "higher", "profession": "Инженер"}}
	for _, f := range files {
		sum := sha256.Sum256(f.data)
		req.Attachments = append(req.Attachments, document.AttachmentHeader{Kind: "identity-document", FileName: f.name, MIMEType: f.mime,
			Size: int64(len(f.data)), SHA256: hex.EncodeToString(sum[:]), Expires: &expires})
	}
	if mutate != nil {
		mutate(req)
	}
	signed, err := signer(t, key).Sign(req.Document())
	if err != nil {
		t.Fatal(err)
	}
	return signed, req.RequestID
}

// submit posts a multipart submission.
func (e *env) submit(token string, doc []byte, files []file, out any) int {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="request"; filename="request.xml"`)
	h.Set("Content-Type", "application/xml")
	pw, _ := mw.CreatePart(h)
	pw.Write(doc)
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, f.name))
		h.Set("Content-Type", f.mime)
		pw, _ := mw.CreatePart(h)
		pw.Write(f.data)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/requests", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	code, _ := e.do(req, out)
	return code
}

type requestView struct {
	ID        string        `json:"id"`
	State     gateway.State `json:"state"`
	DueAt     time.Time     `json:"dueAt"`
	LastError string        `json:"lastError"`
	Outcome   string        `json:"outcome"`
	History   []struct {
		State string `json:"state"`
	} `json:"history"`
}

type cabinetPage struct {
	Messages []struct {
		ID          string            `json:"id"`
		Kind        string            `json:"kind"`
		RequestID   string            `json:"requestId"`
		Read        bool              `json:"read"`
		HasDocument bool              `json:"hasDocument"`
		TitleText   string            `json:"titleText"`
		BodyText    string            `json:"bodyText"`
		Data        map[string]string `json:"data"`
	} `json:"messages"`
	Unread int    `json:"unread"`
	Next   string `json:"next"`
}

func (e *env) waitState(token, id string, state gateway.State) requestView {
	e.t.Helper()
	var r requestView
	for i := 0; i < 300; i++ {
		e.call("GET", "/api/v1/requests/"+id, token, nil, &r)
		if r.State == state {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("request %s stayed %s (last error %q), want %s", id, r.State, r.LastError, state)
	return r
}

// provider plays the labour-market system: it takes the request from its
// queue, confirms it, and answers with a notification and a signed result.
func (e *env) provider(outcome string) {
	e.t.Helper()
	ctx := context.Background()
	resp, err := e.bus.GetMessages(ctx, shep.NewGetMessages(labourSender, "job-seeker-registration", 10, 5*time.Second))
	if err != nil || len(resp.Response.Messages) != 1 {
		e.t.Fatalf("provider poll: %v %v", resp, err)
	}
	m := resp.Response.Messages[0]
	if _, err := e.bus.SendDeliveryNotification(ctx, shep.NewDeliveryNotification(labourSender, m.MessageInfo, true, "")); err != nil {
		e.t.Fatal(err)
	}
	corr := m.MessageInfo.CorrelationID
	// The answers name the request the provider received (its signature is
	// the portal's business here, not this stand-in's).
	received := etree.NewDocument()
	if err := received.ReadFromString(m.MessageData.Data); err != nil {
		e.t.Fatal(err)
	}
	req, err := document.ReadRequest(received.Root())
	if err != nil {
		e.t.Fatal(err)
	}
	notice := &document.Notice{RequestID: req.RequestID, Status: document.StatusAcceptedForProcessing, Applicant: req.Applicant.IIN}
	if _, err := e.bus.SendMessage(ctx, shep.NewSendMessage(labourSender, m.MessageInfo.ServiceID, soap.TypeNotification, corr,
		string(notice.Document()))); err != nil {
		e.t.Fatal(err)
	}
	result := &document.Result{RequestID: req.RequestID, ServiceCode: req.ServiceCode, Outcome: document.Outcome(outcome),
		ProviderBIN: providerBIN, Applicant: req.Applicant.IIN, Number: "JS-2026-000123", Date: "2026-11-24"}
	if result.Outcome == document.OutcomeRefused {
		result.Number = ""
		result.Ground = &document.Ground{Code: "underage", Text: egov.Message{RU: "Заявителю нет 16 лет",
			KK: "Өтініш берушіге 16 жас толмаған", EN: "The applicant is under 16"}}
	}
	signed, err := signer(e.t, "provider").Sign(result.Document())
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.bus.SendMessage(ctx, shep.NewSendMessage(labourSender, m.MessageInfo.ServiceID, soap.TypeResponse, corr, string(signed))); err != nil {
		e.t.Fatal(err)
	}
}

func TestJourneyToTheCabinet(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	doc, id := requestDoc(t, "citizen", citizenIIN, e.clock.Now(), []file{idScan}, nil)
	var acc struct {
		ID    string        `json:"id"`
		State gateway.State `json:"state"`
		DueAt time.Time     `json:"dueAt"`
	}
	if code := e.submit(token, doc, []file{idScan}, &acc); code != http.StatusAccepted {
		t.Fatalf("submit: %d %+v", code, acc)
	}
	// East Kazakhstan declares 1 working day: Tuesday 10:00 → Wednesday 10:00.
	if acc.ID != id || acc.State != gateway.StateWaitingForRelay || !acc.DueAt.Equal(time.Date(2026, 11, 25, 10, 0, 0, 0, egov.Almaty)) {
		t.Fatalf("accepted %+v", acc)
	}
	var page cabinetPage
	e.call("GET", "/api/v1/cabinet/messages", token, nil, &page)
	if len(page.Messages) != 1 || page.Messages[0].Kind != "accepted" || !strings.Contains(page.Messages[0].BodyText, "25.11.2026 10:00") {
		t.Fatalf("cabinet after acceptance: %+v", page)
	}
	e.waitState(token, id, gateway.StateRelayed)

	e.provider("registered")
	r := e.waitState(token, id, gateway.StateCompleted)
	var states []string
	for _, h := range r.History {
		states = append(states, h.State)
	}
	if got := strings.Join(states, ","); got != "accepted,relayed,delivered,in-progress,completed" {
		t.Fatalf("history %s", got)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/cabinet/messages", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept-Language", "kk-KZ, ru;q=0.8")
	e.do(req, &page)
	kinds := map[string]string{}
	for _, m := range page.Messages {
		kinds[m.Kind] = m.ID
	}
	if len(page.Messages) != 4 || kinds["result"] == "" || kinds["access"] == "" || kinds["status"] == "" || page.Unread != 4 {
		t.Fatalf("cabinet: %+v", page)
	}
	if page.Messages[0].Kind != "result" || !strings.HasPrefix(page.Messages[0].TitleText, "Қызмет көрсету нәтижесі") {
		t.Fatalf("newest first, in Kazakh: %+v", page.Messages[0])
	}
	var xmlDoc string
	code, hdr := e.call("GET", "/api/v1/cabinet/messages/"+kinds["result"]+"/document", token, nil, &xmlDoc)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/xml") {
		t.Fatalf("document: %d", code)
	}
	// The downloaded result verifies: the provider's authorised person signed it.
	v := &signing.Verifier{Trust: mustTrust(t), Revocation: &signing.Revocation{AllowUnknown: true}, Now: e.clock.Now}
	res, err := v.Verify(context.Background(), []byte(xmlDoc))
	if err != nil || res.Signer.BIN != providerBIN {
		t.Fatalf("result document: %v", err)
	}
	if code, _ := e.call("POST", "/api/v1/cabinet/messages/"+kinds["result"]+"/read", token, nil, nil); code != http.StatusNoContent {
		t.Fatalf("mark read: %d", code)
	}
	e.call("GET", "/api/v1/cabinet/messages?unread=true", token, nil, &page)
	if page.Unread != 3 || len(page.Messages) != 3 {
		t.Fatalf("unread after reading one: %+v", page)
	}
}

func mustTrust(t *testing.T) *signing.TrustStore {
	ts, err := signing.LoadTrustDir("../fixtures/pki/trust")
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestRefusalReachesTheCabinet(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	doc, id := requestDoc(t, "citizen", citizenIIN, e.clock.Now(), []file{idScan}, nil)
	if code := e.submit(token, doc, []file{idScan}, nil); code != http.StatusAccepted {
		t.Fatalf("submit %d", code)
	}
	e.waitState(token, id, gateway.StateRelayed)
	e.provider("refused")
	r := e.waitState(token, id, gateway.StateRefused)
	if r.Outcome != "refused" {
		t.Fatalf("%+v", r)
	}
	var page cabinetPage
	e.call("GET", "/api/v1/cabinet/messages", token, nil, &page)
	if page.Messages[0].Kind != "refusal" || page.Messages[0].Data["ground"] != "underage" || !strings.Contains(page.Messages[0].BodyText, "16") {
		t.Fatalf("refusal message %+v", page.Messages[0])
	}
}

func TestAnswerFiledOnce(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	doc, id := requestDoc(t, "citizen", citizenIIN, e.clock.Now(), []file{idScan}, nil)
	if code := e.submit(token, doc, []file{idScan}, nil); code != http.StatusAccepted {
		t.Fatalf("submit %d", code)
	}
	e.waitState(token, id, gateway.StateRelayed)
	// Stop the gateway's own consumer to hand it the same message twice.
	e.cancel()
	time.Sleep(1500 * time.Millisecond)
	e.provider("registered")
	ctx := context.Background()
	resp, err := e.bus.GetMessages(ctx, shep.NewGetMessages(portalSender, "job-seeker-registration", 10, time.Second))
	if err != nil || len(resp.Response.Messages) != 2 {
		t.Fatalf("answers on the portal's queue: %v %v", resp, err)
	}
	for round := 0; round < 2; round++ {
		for _, m := range resp.Response.Messages {
			if err := e.app.HandleAnswer(ctx, m); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
	r, err := e.app.RequestOf(ctx, citizenIIN, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.History) != 5 || r.State != gateway.StateCompleted {
		t.Fatalf("after handling each answer twice: %s %+v", r.State, r.History)
	}
	page, err := e.app.Cabinet(ctx, citizenIIN, "", 50, false)
	if err != nil || len(page.Messages) != 4 {
		t.Fatalf("cabinet holds %d messages, want 4 (accepted, access, status, result)", len(page.Messages))
	}
}

// A request the bus stopped delivering never gets an answer by itself: the
// portal finds it, marks it with the reason where the citizen sees it, and
// clears the mark once an operator has redelivered it.
func TestStuckRequestIsMarkedWithTheReason(t *testing.T) {
	e := newEnv(t, func(c *shep.Config) { c.MaxDeliveries, c.Visibility = 1, 100*time.Millisecond })
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	doc, id := requestDoc(t, "citizen", citizenIIN, e.clock.Now(), []file{idScan}, nil)
	if code := e.submit(token, doc, []file{idScan}, nil); code != http.StatusAccepted {
		t.Fatalf("submit %d", code)
	}
	e.waitState(token, id, gateway.StateRelayed)

	// The provider's system leases the request and dies; with one delivery
	// allowed, the bus stops delivering it at the next poll.
	ctx := context.Background()
	resp, err := e.bus.GetMessages(ctx, shep.NewGetMessages(labourSender, "job-seeker-registration", 10, 5*time.Second))
	if err != nil || len(resp.Response.Messages) != 1 {
		t.Fatalf("provider poll: %v %v", resp, err)
	}
	busID := resp.Response.Messages[0].MessageInfo.MessageID
	time.Sleep(250 * time.Millisecond)
	if again, _ := e.bus.GetMessages(ctx, shep.NewGetMessages(labourSender, "job-seeker-registration", 10, 0)); len(again.Response.Messages) != 0 {
		t.Fatal("handed out past MaxDeliveries")
	}

	if n, err := e.app.CheckStuck(ctx); err != nil || n != 0 {
		t.Fatalf("checked before StuckAfter: %d %v", n, err)
	}
	e.clock.Add(16 * time.Minute)
	if n, err := e.app.CheckStuck(ctx); err != nil || n != 1 {
		t.Fatalf("stuck requests marked: %d %v", n, err)
	}
	var r requestView
	e.call("GET", "/api/v1/requests/"+id, token, nil, &r)
	if !strings.HasPrefix(r.LastError, gateway.StuckPrefix) || !strings.Contains(r.LastError, "max-deliveries") {
		t.Fatalf("stuck request shows %q", r.LastError)
	}

	// The operator redelivers it; the mark goes, and the answer comes.
	if err := shep.Redeliver(ctx, e.redis.Client, e.redis.Prefix, "ais-rynok-truda", busID); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(16 * time.Minute)
	if n, err := e.app.CheckStuck(ctx); err != nil || n != 0 {
		t.Fatalf("after redelivery: %d %v", n, err)
	}
	var after requestView
	e.call("GET", "/api/v1/requests/"+id, token, nil, &after)
	if after.LastError != "" {
		t.Fatalf("redelivered request still shows %q", after.LastError)
	}
	e.provider("registered")
	e.waitState(token, id, gateway.StateCompleted)
}
