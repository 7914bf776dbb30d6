package labour_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"egov"
	"egov/document"
	"egov/gateway"
	"egov/registers/contracts"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

// cabinetOf returns the citizen's cabinet messages of one kind.
func (s *stack) cabinetOf(c *citizen, kind string) []message {
	var page struct{ Messages []message }
	s.get("/api/v1/cabinet/messages?limit=100", c.token, &page)
	var out []message
	for _, m := range page.Messages {
		if m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

// awaitKind waits until the citizen's cabinet holds n messages of kind.
func (s *stack) awaitKind(c *citizen, kind string, n int) []message {
	s.t.Helper()
	for i := 0; i < 500; i++ {
		if got := s.cabinetOf(c, kind); len(got) >= n {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("%d %s messages never came: %+v", n, kind, s.cabinetOf(c, kind))
	return nil
}

// A job seeker leaves the register at his own request: the answer names the
// registration that ended, the registration's request says so in the
// cabinet with the provider's signed notice, a second request to leave is
// refused, and he may register again.
func TestJobSeekerLeavesTheRegisterAtHisRequest(t *testing.T) {
	s := newStack(t, 30*time.Second)
	s.labour()
	aidos := s.citizen("791028302728", "citizen")
	reg := s.submit(aidos, "job-seeker-registration", "education", "higher")
	if r := s.await(aidos, reg); r.Outcome != "registered" {
		t.Fatalf("registration: %+v", r)
	}
	number := s.results(aidos)[0].Data["number"]

	leave := s.submit(aidos, "job-seeker-deregistration", "reason", "found-work")
	if r := s.await(aidos, leave); r.State != gateway.StateCompleted || r.Outcome != "deregistered" {
		t.Fatalf("deregistration: %+v", r)
	}
	for _, m := range s.results(aidos) {
		if m.RequestID == leave && (m.Data["number"] != number || m.Data["ground"] != "at-own-request") {
			t.Fatalf("deregistration result %+v, want registration %s ended at own request", m, number)
		}
	}
	ended := s.awaitKind(aidos, "registration-ended", 1)
	if len(ended) != 1 || ended[0].RequestID != reg || ended[0].Data["number"] != number || !ended[0].HasDocument {
		t.Fatalf("end notice %+v", ended)
	}
	// The notice is the employment centre's, signed by its head.
	req, _ := http.NewRequest("GET", s.portal.URL+"/api/v1/cabinet/messages/"+ended[0].ID+"/document", nil)
	req.Header.Set("Authorization", "Bearer "+aidos.token)
	_, doc := s.do(req, nil)
	if vr, err := s.verifier.Verify(context.Background(), doc); err != nil || vr.Signer.BIN != "940140000385" || !vr.Signer.HasKeyUser(signing.KeyUserCEO) {
		t.Fatalf("end notice signature: %v", err)
	}
	var history struct{ History []struct{ State string } }
	s.get("/api/v1/requests/"+reg, aidos.token, &history)
	if last := history.History[len(history.History)-1].State; last != "registration-ended" {
		t.Fatalf("the registration's history ends with %q", last)
	}

	again := s.submit(aidos, "job-seeker-deregistration", "reason", "other")
	s.await(aidos, again)
	if g := groundOf(s.results(aidos), again); g != "not-registered" {
		t.Fatalf("leaving twice: ground %q", g)
	}
	back := s.submit(aidos, "job-seeker-registration", "education", "higher")
	if r := s.await(aidos, back); r.Outcome != "registered" {
		t.Fatalf("registering again after leaving: %+v", r)
	}
	if n := len(s.cabinetOf(aidos, "registration-ended")); n != 1 {
		t.Fatalf("%d end notices, want 1", n)
	}
}

// Where the regulation bars people in work (East Kazakhstan, 001:556-559),
// the system looks at its job seekers again: one who took up work after
// registering is deregistered by the provider's decision, once, and told in
// his cabinet; one still without work stays registered.
func TestProviderEndsARegistrationWhenTheJobSeekerTakesUpWork(t *testing.T) {
	s := newStack(t, 30*time.Second)
	reg, err := contracts.Parse([]byte(`{"contracts": [
		{"iin": "791028302728", "employer": "ТОО «АЛМАТЫ ЛОГИСТИКА» (TEST)", "bin": "081240003533", "from": "2026-02-02"}]}`), "test")
	if err != nil {
		t.Fatal(err)
	}
	s.bus.HandleSync(contracts.ServiceID, reg)
	s.labour()
	aidos := s.citizen("791028302728", "citizen")
	aigerim := s.citizen("050815600217", "iin:050815600217")
	ids := map[*citizen]string{}
	for _, c := range []*citizen{aidos, aigerim} {
		doc := s.request(uuid.NewString(), c.iin, "job-seeker-registration", "education", "higher")
		doc.Region = "east-kazakhstan"
		if code, body := s.send(c, doc.Document(), true); code != http.StatusAccepted {
			t.Fatalf("registration: %d %s", code, body)
		}
		ids[c] = doc.RequestID
		if r := s.await(c, doc.RequestID); r.Outcome != "registered" {
			t.Fatalf("registration in East Kazakhstan on 15.01.2026: %+v", r)
		}
	}
	sys := s.systems[0]
	ctx := context.Background()
	if n, err := sys.Review(ctx); err != nil || n != 0 {
		t.Fatalf("review before anything is due: %d ended, %v", n, err)
	}
	// A day later: due, both still without work.
	s.shift.Store(int64(24 * time.Hour))
	if n, err := sys.Review(ctx); err != nil || n != 0 {
		t.Fatalf("review on 16.01.2026: %d ended, %v", n, err)
	}
	// On 3 February his contract is in force.
	s.shift.Store(int64(19 * 24 * time.Hour))
	if n, err := sys.Review(ctx); err != nil || n != 1 {
		t.Fatalf("review on 03.02.2026: %d ended, %v", n, err)
	}
	ended := s.awaitKind(aidos, "registration-ended", 1)
	if ended[0].RequestID != ids[aidos] || ended[0].Data["ground"] != "labour-activity-started" {
		t.Fatalf("end notice %+v", ended[0])
	}
	s.shift.Store(int64(20 * 24 * time.Hour))
	if n, err := sys.Review(ctx); err != nil || n != 0 {
		t.Fatalf("a later review: %d ended, %v", n, err)
	}
	if got := s.cabinetOf(aigerim, "registration-ended"); len(got) != 0 {
		t.Fatalf("the job seeker without work was told %+v", got)
	}
	// Ended: asking to leave is refused; she, still registered, may leave.
	leave := s.submit(aidos, "job-seeker-deregistration", "reason", "found-work")
	s.await(aidos, leave)
	if g := groundOf(s.results(aidos), leave); g != "not-registered" {
		t.Fatalf("leaving after the provider ended it: %q", g)
	}
	if n := len(s.cabinetOf(aidos, "registration-ended")); n != 1 {
		t.Fatalf("%d end notices, want 1", n)
	}
}

// An end notice is believed only for what its sender registered: one not
// signed by the provider's authorised person is refused by the bus; one
// that names a request the provider refused, or another citizen, is
// rejected by the portal and kept as a dead letter; no cabinet hears of
// either.
func TestAnEndNoticeIsBelievedOnlyForWhatItsSenderRegistered(t *testing.T) {
	s := newStack(t, 30*time.Second)
	s.labour()
	aidos := s.citizen("791028302728", "citizen")
	reg := s.submit(aidos, "job-seeker-registration", "education", "higher")
	s.await(aidos, reg)
	number := s.results(aidos)[0].Data["number"]
	teen := s.citizen("100203500443", "iin:100203500443")
	refused := s.submit(teen, "job-seeker-registration", "education", "secondary")
	s.await(teen, refused)

	notice := func(requestID, applicant, number string) []byte {
		return (&document.Result{RequestID: requestID, ServiceCode: "job-seeker-registration", Outcome: document.OutcomeDeregistered,
			ProviderBIN: "940140000385", Applicant: applicant, Number: number, Date: "2026-01-15",
			EndGround: &document.Ground{Code: "labour-activity-started", Text: egov.Message{RU: "р", KK: "қ", EN: "e"}}}).Document()
	}
	bus := &shep.HTTPClient{BaseURL: s.busSrv.URL}
	lm := soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "labour-secret"}
	sendSigned := func(by *signing.Signer, doc []byte) error {
		signed, err := by.Sign(doc)
		if err != nil {
			t.Fatal(err)
		}
		_, err = bus.SendMessage(context.Background(), shep.NewSendMessage(lm, document.EndNoticeService("egov-portal"), soap.TypeRequest, "", string(signed)))
		return err
	}
	var fault *soap.Fault
	if err := sendSigned(aidos.key, notice(reg, aidos.iin, number)); !errors.As(err, &fault) || fault.Info.ErrorCode != soap.CodeDataSignatureBad {
		t.Fatalf("a notice signed by a citizen: %v", err)
	}
	provider := s.key("provider")
	for name, doc := range map[string][]byte{
		"a refused request":                 notice(refused, teen.iin, number),
		"a registration of another citizen": notice(reg, teen.iin, number),
		"another registration number":       notice(reg, aidos.iin, "JS-2026-999999"),
	} {
		if err := sendSigned(provider, doc); err != nil {
			t.Fatalf("%s: the bus refused %v", name, err)
		}
	}
	var dead []shep.DeadLetter
	for i := 0; i < 500 && len(dead) < 3; i++ {
		time.Sleep(20 * time.Millisecond)
		var err error
		if dead, err = shep.DeadLetters(context.Background(), s.r.Client, s.r.Prefix, "egov-portal"); err != nil {
			t.Fatal(err)
		}
	}
	if len(dead) != 3 {
		t.Fatalf("dead letters %+v, want the three notices", dead)
	}
	for _, d := range dead {
		if !strings.HasPrefix(d.LastError, string(egov.CodeAnswerUnmatched)) {
			t.Errorf("dead letter %s: %q", d.MessageID, d.LastError)
		}
	}
	for _, c := range []*citizen{aidos, teen} {
		if got := s.cabinetOf(c, "registration-ended"); len(got) != 0 {
			t.Fatalf("%s was told %+v", c.iin, got)
		}
	}
}
