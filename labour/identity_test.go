package labour_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"egov"
	"egov/document"
	"egov/gateway"
	"egov/labour"
	"egov/provider"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

// The tests of this file attack the lifecycle of a request across the
// portal, the bus and the labour-market system, each over its real HTTP
// server on real Redis: whose a request is, who may answer it, and what
// state it is in must hold from the first system to the last.

// stateCorporationBIN is the State Corporation's in the routing table:
// its operators sign the requests its counters file.
const stateCorporationBIN = "160540000019"

var (
	portalSender = soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"}
	labourSender = soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "labour-secret"}
)

// resultDocument downloads the signed result of a request from the
// citizen's cabinet and returns the IIN it names.
func (s *stack) resultApplicant(c *citizen, id string) string {
	s.t.Helper()
	for _, m := range s.results(c) {
		if m.RequestID != id {
			continue
		}
		req, _ := http.NewRequest("GET", s.portal.URL+"/api/v1/cabinet/messages/"+m.ID+"/document", nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		_, doc := s.do(req, nil)
		res, err := s.verifier.Verify(context.Background(), doc)
		if err != nil {
			s.t.Fatalf("result of %s: %v", id, err)
		}
		if el := res.Element.FindElement("./Applicant"); el != nil {
			return el.Text()
		}
		return ""
	}
	return ""
}

// waitRelayed waits until the portal has handed the request to the bus.
func (s *stack) waitRelayed(c *citizen, id string) {
	s.t.Helper()
	var r request
	for i := 0; i < 500; i++ {
		s.get("/api/v1/requests/"+id, c.token, &r)
		if r.State == gateway.StateRelayed {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("request %s not relayed: %s", id, r.State)
}

// 1. A second citizen who signs his own request with the first citizen's
// request id gets his own answer; the first citizen gets his.
func TestAnotherCitizensRequestIDGetsItsOwnAnswer(t *testing.T) {
	s := newStack(t, 30*time.Second)
	aidos := s.citizen("791028302728", "citizen")
	daniyar := s.citizen("900101300811", "citizen2")
	id := uuid.NewString()
	if code, data := s.send(aidos, s.request(id, aidos.iin, "job-seeker-registration", "education", "higher").Document(), true); code != http.StatusAccepted {
		t.Fatalf("first citizen: %d %s", code, data)
	}
	s.waitRelayed(aidos, id)
	if code, data := s.send(daniyar, s.request(id, daniyar.iin, "job-seeker-registration", "education", "higher").Document(), true); code != http.StatusAccepted {
		t.Fatalf("second citizen, same request id: %d %s", code, data)
	}
	s.waitRelayed(daniyar, id)
	s.labour()
	if r := s.await(aidos, id); r.State != gateway.StateCompleted || r.Outcome != "registered" {
		t.Fatalf("first citizen's request: %+v", r)
	}
	// The persons register holds an expired identity card for the second.
	if r := s.await(daniyar, id); r.State != gateway.StateRefused {
		t.Fatalf("second citizen's request: %+v", r)
	}
	for _, c := range []*citizen{aidos, daniyar} {
		if n := len(s.results(c)); n != 1 {
			t.Fatalf("%s has %d results, want 1", c.iin, n)
		}
		if got := s.resultApplicant(c, id); got != c.iin {
			t.Fatalf("the result in %s's cabinet names %s", c.iin, got)
		}
	}
}

// sendAnswer plays the provider's side of the bus: an answer of type on
// the request's correlation, with no idempotency key.
func (s *stack) sendAnswer(corr string, typ soap.MessageType, data string) error {
	bus := &shep.HTTPClient{BaseURL: s.busSrv.URL}
	_, err := bus.SendMessage(context.Background(), shep.NewSendMessage(labourSender, "job-seeker-registration", typ, corr, data))
	return err
}

// relayedAs returns the request's correlation on the bus and its history.
func (s *stack) relayedAs(c *citizen, id string) (corr string, r gateway.Request) {
	s.t.Helper()
	s.get("/api/v1/requests/"+id, c.token, &r)
	v, err := s.r.Client.HGet(context.Background(), s.r.Prefix+"gw:{"+c.iin+"}:request:"+id, "correlationId").Result()
	if err != nil {
		s.t.Fatal(err)
	}
	return v, r
}

// waitHistory waits until the request's history has n entries.
func (s *stack) waitHistory(c *citizen, id string, n int) gateway.Request {
	s.t.Helper()
	var r gateway.Request
	for i := 0; i < 500; i++ {
		r = gateway.Request{}
		s.get("/api/v1/requests/"+id, c.token, &r)
		if len(r.History) >= n {
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("request %s: history %+v, want %d entries", id, r.History, n)
	return r
}

func statesOf(r gateway.Request) string {
	var out []string
	for _, h := range r.History {
		out = append(out, h.State)
	}
	return strings.Join(out, ",")
}

// 3, 4, 7. After a request ended, nothing moves it: not the genuine result
// sent again without its idempotency key, not a late notice, not a result
// signed by an employee of the provider (who has no right to sign for it).
func TestAnEndedRequestStaysEnded(t *testing.T) {
	s := newStack(t, 30*time.Second)
	s.labour()
	daniyar := s.citizen("900101300811", "citizen2")
	id := s.submit(daniyar, "job-seeker-registration", "education", "higher")
	if r := s.await(daniyar, id); r.State != gateway.StateRefused {
		t.Fatalf("request: %+v", r)
	}
	corr, before := s.relayedAs(daniyar, id)
	if got := statesOf(before); got != "accepted,relayed,delivered,in-progress,refused" {
		t.Fatalf("history %s", got)
	}
	var genuine string
	for _, m := range s.results(daniyar) {
		req, _ := http.NewRequest("GET", s.portal.URL+"/api/v1/cabinet/messages/"+m.ID+"/document", nil)
		req.Header.Set("Authorization", "Bearer "+daniyar.token)
		_, doc := s.do(req, nil)
		genuine = string(doc)
	}

	// 4: the same signed result again, as a new message.
	if err := s.sendAnswer(corr, soap.TypeResponse, genuine); err != nil {
		t.Fatal(err)
	}
	// 7: a late notice (a refused one redelivered, or sent again).
	notice := string((&document.Notice{RequestID: id, Status: document.StatusAcceptedForProcessing, Applicant: daniyar.iin}).Document())
	if err := s.sendAnswer(corr, soap.TypeNotification, notice); err != nil {
		t.Fatal(err)
	}
	r := s.waitHistory(daniyar, id, 7)
	if r.State != gateway.StateRefused || r.Outcome != "refused" {
		t.Fatalf("after a repeated result and a late notice: %s (%s)", r.State, r.Outcome)
	}
	if got := statesOf(r); got != "accepted,relayed,delivered,in-progress,refused,ignored,ignored" {
		t.Fatalf("history %s", got)
	}
	if n := len(s.results(daniyar)); n != 1 {
		t.Fatalf("%d results in the cabinet, want 1", n)
	}

	// 3: a "registered" result signed by an employee of the provider's BIN.
	employee := s.key("employee:940140000385")
	forged := strings.Replace(unsignedResult(t, genuine), "<Outcome>refused</Outcome>", "<Outcome>registered</Outcome>", 1)
	signed, err := employee.Sign([]byte(forged))
	if err != nil {
		t.Fatal(err)
	}
	err = s.sendAnswer(corr, soap.TypeResponse, string(signed))
	var f *soap.Fault
	if err == nil || !errors.As(err, &f) || f.Info.ErrorCode != soap.CodeDataSignatureBad || !strings.Contains(f.Info.ErrorData, "signer-not-authorised") {
		t.Fatalf("the bus took a result signed by an employee: %v", err)
	}
	if r := s.waitHistory(daniyar, id, 7); r.State != gateway.StateRefused || len(s.results(daniyar)) != 1 {
		t.Fatalf("after a forged result: %s, %d results", r.State, len(s.results(daniyar)))
	}
}

// unsignedResult is the result document without its signature.
func unsignedResult(t *testing.T, signed string) string {
	t.Helper()
	start, end := strings.Index(signed, "<ds:Signature"), strings.Index(signed, "</ds:Signature>")
	if start < 0 || end < 0 {
		t.Fatalf("no signature in %q", signed)
	}
	return signed[:start] + signed[end+len("</ds:Signature>"):]
}

// decision reads what the labour-market system decided about a request
// of a sender.
func (s *stack) decision(sender, iin, id string) (outcome, ground string) {
	s.t.Helper()
	for i := 0; i < 500; i++ {
		raw, err := s.r.Client.Get(context.Background(), s.r.Prefix+"lm:{"+iin+"}:request:"+sender+":"+id).Result()
		if err == nil {
			var rec struct {
				Decision struct{ Outcome, Ground string } `json:"decision"`
			}
			if err := json.Unmarshal([]byte(raw), &rec); err != nil {
				s.t.Fatal(err)
			}
			return rec.Decision.Outcome, rec.Decision.Ground
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("no decision about %s", id)
	return "", ""
}

// 5. The labour-market system checks for itself what a separate system
// would: that the signer is the applicant, and that the declared documents
// reached it. A sender with the portal's credentials on the bus who skips
// the portal's checks registers nobody.
func TestLabourChecksForItself(t *testing.T) {
	s := newStack(t, 30*time.Second)
	s.labour()
	bus := &shep.HTTPClient{BaseURL: s.busSrv.URL}
	aidos := s.key("citizen")
	victim := "050815600217"
	send := func(signer *signing.Signer, applicant string, attach bool) string {
		t.Helper()
		id := uuid.NewString()
		signed, err := signer.Sign(s.request(id, applicant, "job-seeker-registration", "education", "higher").Document())
		if err != nil {
			t.Fatal(err)
		}
		var props []soap.Property
		if attach {
			ref, err := bus.PutAttachment(context.Background(), portalSender, scan)
			if err != nil {
				t.Fatal(err)
			}
			props = append(props, soap.Property{Key: shep.PropAttachment, Value: ref})
		}
		if _, err := bus.SendMessage(context.Background(), shep.NewSendMessage(portalSender, "job-seeker-registration", soap.TypeRequest, "", string(signed), props...)); err != nil {
			t.Fatalf("the bus refused the request: %v", err)
		}
		return id
	}
	tests := []struct {
		name      string
		signer    *signing.Signer
		applicant string
		attach    bool
		ground    string
	}{
		{"signed by another citizen", aidos, victim, true, "signer-not-applicant"},
		{"declared attachment never delivered", s.key("iin:" + victim), victim, false, "attachment-not-delivered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := send(tt.signer, tt.applicant, tt.attach)
			if outcome, ground := s.decision("egov-portal", tt.applicant, id); outcome != "refused" || ground != tt.ground {
				t.Fatalf("decided %s (%s), want refused (%s)", outcome, ground, tt.ground)
			}
		})
	}
	// The victim was registered by neither: his own request succeeds.
	c := s.citizen(victim, "iin:"+victim)
	own := s.submit(c, "job-seeker-registration", "education", "higher")
	if r := s.await(c, own); r.State != gateway.StateCompleted || r.Outcome != "registered" {
		t.Fatalf("the victim's own registration: %+v (ground %q)", r, groundOf(s.results(c), own))
	}
}

// A request whose signature does not hold names nobody to answer: the
// system rejects it with the code, and decides nothing.
func TestUnverifiableRequestIsRejected(t *testing.T) {
	s := newStack(t, 30*time.Second)
	sys, err := labour.New(s.r.Client, labour.Config{Bus: s.bus, Sender: labourSender, Signer: s.key("provider"), Verifier: s.verifier,
		KeyPrefix: s.r.Prefix, Now: s.now, Log: quiet, FiledThrough: catalogue(t).DeskChannel,
		Counters: map[string]provider.Filer{
			"gk-counter": {BIN: stateCorporationBIN, Filed: document.ChannelStateCorporation, Channels: []string{"state-corporation"}},
			"czn-desk":   {BIN: "130440000001", Filed: document.ChannelEmploymentCentre, Channels: []string{"employment-centre", "provider"}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	doc := string(s.request(id, "791028302728", "job-seeker-registration", "education", "higher").Document())
	signed, err := s.key("citizen").Sign([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	// A citizen's own signature over a filing he claims at a counter, with
	// a representative: nobody at a counter vouches for it.
	filed := s.request(id, "791028302728", "job-seeker-registration", "education", "higher")
	filed.Region = "almaty-city" // S1 at a counter there goes through the bus (G-B)
	filed.Filing = &document.Filing{Channel: document.ChannelStateCorporation, Office: "ala-con-03", OperatorIIN: "760903400210",
		Representative: &document.Representative{IIN: "800515400122", Surname: "С", GivenName: "Г",
			PowerOfAttorney: document.PowerOfAttorney{Number: "ENIS-2026-ALM-0040217", Notary: "N", Until: s.now().AddDate(1, 0, 0)}}}
	signAs := func(key string, change func(*document.Request)) string {
		doc := *filed
		f := *filed.Filing
		doc.Filing = &f
		if change != nil {
			change(&doc)
		}
		signed, err := s.key(key).Sign(doc.Document())
		if err != nil {
			t.Fatal(err)
		}
		return string(signed)
	}
	signFiling := func(key string) string { return signAs(key, nil) }
	operator := "org:" + stateCorporationBIN + ":can-sign:760903400210" // the IIN the filing names
	centre := "org:130440000001:can-sign:760903400210"
	tests := []struct {
		name, sender, data string
		code               egov.Code
		service            string // the bus service it came under (default: the counter's S1 in Almaty)
	}{
		{"unsigned", "egov-portal", doc, egov.CodeSignatureMissing, ""},
		{"tampered", "egov-portal", strings.Replace(string(signed), "<Surname>ТЕСТОВ</Surname>", "<Surname>ТЕСТОВА</Surname>", 1), egov.CodeSignatureInvalid, ""},
		{"a filing at a counter claimed by the citizen, from the portal", "egov-portal", signFiling("citizen"), egov.CodeFormInvalid, ""},
		{"an operator's filing from a system that files for nobody", "egov-portal", signFiling(operator), egov.CodeFormInvalid, ""},
		{"a filing from the counter signed by the citizen", "gk-counter", signFiling("citizen"), egov.CodeBINMismatch, ""},
		{"signed by another organisation's head", "gk-counter", signFiling("provider"), egov.CodeBINMismatch, ""},
		{"signed by an employee without the right to sign", "gk-counter", signFiling("org:" + stateCorporationBIN + ":employee:760903400210"), egov.CodeSignerNotAuthorised, ""},
		{"signed by an operator the filing does not name", "gk-counter", signFiling("org:" + stateCorporationBIN + ":can-sign:901201400012"), egov.CodeIINMismatch, ""},
		// A desk files only its own channels: the service, region and bus
		// service must be one of them in the catalogue.
		{"the counter's filing under the portal's bus service", "gk-counter", signFiling(operator), egov.CodeFormInvalid, "job-seeker-registration"},
		{"S2 from the counter, which the State Corporation does not provide (004:525)", "gk-counter",
			signAs(operator, func(r *document.Request) { r.ServiceCode = "unemployed-registration" }), egov.CodeFormInvalid, ""},
		{"the counter's filing in a region whose counter relays paper", "gk-counter",
			signAs(operator, func(r *document.Request) { r.Region = "east-kazakhstan" }), egov.CodeFormInvalid, ""},
		{"the centre's filing naming the State Corporation", "czn-desk",
			signAs(centre, func(r *document.Request) { r.ServiceCode, r.Filing.Representative = "unemployed-registration", nil }), egov.CodeFormInvalid, "czn.unemployed-registration"},
		{"the centre's filing of S1", "czn-desk",
			signAs(centre, func(r *document.Request) {
				r.Filing.Channel, r.Filing.Representative = document.ChannelEmploymentCentre, nil
			}), egov.CodeFormInvalid, "czn.unemployed-registration"},
		{"a representative at the centre (flow C is in person)", "czn-desk",
			signAs(centre, func(r *document.Request) {
				r.ServiceCode, r.Filing.Channel = "unemployed-registration", document.ChannelEmploymentCentre
			}), egov.CodeFormInvalid, "czn.unemployed-registration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m soap.AsyncMessage
			service := tt.service
			if service == "" && tt.sender == "gk-counter" {
				service = "gk.job-seeker-registration"
			} else if service == "" {
				service = "job-seeker-registration"
			}
			m.MessageInfo = soap.AsyncMessageInfo{MessageID: uuid.NewString(), CorrelationID: uuid.NewString(), ServiceID: service,
				MessageType: soap.TypeRequest, Sender: soap.SenderInfo{SenderID: tt.sender}}
			m.MessageData.Data = tt.data
			err := sys.Process(context.Background(), m)
			var rej *labour.Rejection
			if !errors.As(err, &rej) || rej.Code != tt.code {
				t.Fatalf("got %v, want a rejection %s", err, tt.code)
			}
		})
	}
	for _, sender := range []string{"egov-portal", "gk-counter", "czn-desk"} {
		if n, _ := s.r.Client.Exists(context.Background(), s.r.Prefix+"lm:{791028302728}:request:"+sender+":"+id).Result(); n != 0 {
			t.Fatalf("a decision was stored for an unverifiable request from %s", sender)
		}
	}
}

// A request of a service the system does not provide (S7 is АРМ РШЭП's)
// is refused with its own ground, whatever routed it here; nothing of the
// service's rules is applied.
func TestServiceNotProvidedIsRefused(t *testing.T) {
	s := newStack(t, 30*time.Second)
	sys, err := labour.New(s.r.Client, labour.Config{Bus: s.bus, Sender: labourSender, Signer: s.key("provider"), Verifier: s.verifier,
		KeyPrefix: s.r.Prefix, Now: s.now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	req := s.request(id, "791028302728", "tsa-membership-certificate", "", "")
	req.Form = nil // S7 has no form
	signed, err := s.key("citizen").Sign(req.Document())
	if err != nil {
		t.Fatal(err)
	}
	var m soap.AsyncMessage
	m.MessageInfo = soap.AsyncMessageInfo{MessageID: uuid.NewString(), CorrelationID: uuid.NewString(), ServiceID: "tsa-membership-certificate",
		MessageType: soap.TypeRequest, Sender: soap.SenderInfo{SenderID: "egov-portal"}}
	m.MessageData.Data = string(signed)
	_ = sys.Process(context.Background(), m) // the bus may refuse the answers: the decision is stored first
	rec, err := s.r.Client.Get(context.Background(), s.r.Prefix+"lm:{791028302728}:request:egov-portal:"+id).Result()
	if err != nil {
		t.Fatalf("no decision stored: %v", err)
	}
	if !strings.Contains(rec, `"Outcome":"refused"`) || !strings.Contains(rec, `"Ground":"service-unknown"`) {
		t.Fatalf("decision %s, want a refusal on service-unknown", rec)
	}
}

// catalogue is the built-in catalogue, whose desk channels say what a desk
// may file.
func catalogue(t *testing.T) *gateway.Catalogue {
	t.Helper()
	cat, err := gateway.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}
