package counter_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"egov"
	"egov/counter"
	"egov/document"
	"egov/gateway"
	"egov/labour"
	"egov/signing"
	"egov/signing/pki"
	"egov/sms"
)

// idCard is an applicant's identity card, scanned at the desk.
var idCard = []counter.Scan{{Kind: "identity-document", FileName: "udv.pdf", Content: scan, Expires: "2030-05-01"}}

// jobSeekerAtTheCounter registers iin as a job seeker at the State
// Corporation's counter in Almaty (S1, G-B) and returns the receipt and
// the operator's session.
func (s *counterStack) jobSeekerAtTheCounter(iin string) (counter.Receipt, string) {
	s.t.Helper()
	token := s.login(almaty)
	rc := s.file(almaty, token, counter.IntakeForm{Service: "job-seeker-registration", Applicant: iin,
		Form: map[string]string{"education": "higher"}, Documents: idCard})
	s.awaitState(token, rc.RequestID, counter.StateReady)
	return rc, token
}

// S2 at an employment centre (flow C, 004:484-492): a registered job
// seeker out of work comes to the centre of Almaty with her identity card;
// the specialist enters her into the labour-market system with his
// signature, the system registers her as unemployed, and the centre tells
// her the date by SMS. A second request is refused, and the refusal is
// told by SMS too. S3 (001:979-999): the centre of Ust-Kamenogorsk gives
// her the certificate of that registration at its front office.
func TestEmploymentCentreDesk(t *testing.T) {
	s := newCounterStack(t)
	// She is a job seeker first (S1, at the State Corporation's counter).
	_, counterToken := s.jobSeekerAtTheCounter(daughter)

	token := s.login(almatyCentre)
	// The centre files only its own channels, and takes no representative.
	var p counter.Problem
	if code, _, p := s.intake(token, counter.IntakeForm{Service: "job-seeker-registration", Applicant: daughter, Documents: idCard}); code != http.StatusUnprocessableEntity || p.Code != egov.CodeRegionNotServed {
		t.Fatalf("S1 at the centre: %d %+v", code, p)
	}
	withRep := counter.IntakeForm{Service: "unemployed-registration", Applicant: daughter, Documents: idCard,
		Representative: &counter.Representative{IIN: neighbour, Surname: "СЕЙТҚАЛИЕВА", GivenName: "ГҮЛНАР", PowerOfAttorney: "ENIS-2026-ALM-0040217"}}
	if code, _, p := s.intake(token, withRep); code != http.StatusUnprocessableEntity || p.Code != egov.CodeFormInvalid {
		t.Fatalf("a representative at the centre: %d %+v", code, p)
	}
	if code, _, p := s.intake(token, counter.IntakeForm{Service: "unemployed-registration", Applicant: daughter}); code != http.StatusUnprocessableEntity || p.Receipt == nil ||
		strings.Join(p.Receipt.Missing, ",") != "identity-document" {
		t.Fatalf("S2 without the identity card: %d %+v", code, p)
	}

	// An identity card the persons register holds as expired is refused at
	// intake, whatever date was typed (father's card expired).
	if code, _, p := s.intake(token, counter.IntakeForm{Service: "unemployed-registration", Applicant: father, Documents: idCard}); code != http.StatusUnprocessableEntity ||
		p.Receipt == nil || strings.Join(p.Receipt.Expired, ",") != "identity-document" {
		t.Fatalf("S2 with a card the register holds expired: %d %+v", code, p)
	}

	rc := s.file(almatyCentre, token, counter.IntakeForm{Service: "unemployed-registration", Applicant: daughter, Documents: idCard})
	if !strings.HasPrefix(rc.Number, "czn-ala-2026-") || rc.Operator == "" {
		t.Fatalf("receipt %+v", rc)
	}
	// 004:484-492: 15 min + 2 min + 2 working days + 1 working day from a
	// Thursday 10:00 is the next Tuesday 10:17 (Saturday and Sunday off).
	if want := rc.AcceptedAt.AddDate(0, 0, 5).Add(17 * time.Minute); !rc.DueAt.Equal(want) {
		t.Errorf("S2 due %s, want %s", rc.DueAt.In(egov.Almaty), want.In(egov.Almaty))
	}
	f := s.awaitState(token, rc.RequestID, counter.StateReady)
	if f.Outcome != "registered" || f.Flow != "C" || f.Recipient != labour.SenderID || !strings.HasPrefix(f.ResultNumber, "UNE-2026-") || f.ResultDate != "2026-12-03" {
		t.Fatalf("filing %+v", f)
	}
	if n := s.awaitNotice(token, rc.RequestID); n.Status != counter.NoticeDelivered {
		t.Fatalf("notice %+v", n)
	}
	texts := func() []sms.Message {
		t.Helper()
		out, err := sms.Outbox(context.Background(), s.rdb.Client, s.rdb.Prefix, "+77011234534")
		if err != nil {
			t.Fatal(err)
		}
		var mine []sms.Message
		for _, m := range out {
			if m.Sender == counter.EmploymentCentre.System {
				mine = append(mine, m)
			}
		}
		slices.SortFunc(mine, func(a, b sms.Message) int { return a.AcceptedAt.Compare(b.AcceptedAt) })
		return mine
	}
	got := texts()
	if len(got) != 1 || !strings.Contains(got[0].Text, "безработного с 03.12.2026") || !strings.Contains(got[0].Text, f.ResultNumber) ||
		!strings.Contains(got[0].Text, "жұмыссыз ретінде тіркелдіңіз") || len([]rune(got[0].Text)) > sms.MaxText {
		t.Fatalf("the applicant's SMS: %+v", got)
	}

	again := s.file(almatyCentre, token, counter.IntakeForm{Service: "unemployed-registration", Applicant: daughter, Documents: idCard})
	f = s.awaitState(token, again.RequestID, counter.StateReady)
	if f.Outcome != "refused" || f.Ground != "already-unemployed" || f.GroundText == nil || f.GroundText.KK == "" {
		t.Fatalf("a second S2: %+v", f)
	}
	s.awaitNotice(token, again.RequestID)
	if got := texts(); len(got) != 2 || !strings.Contains(got[1].Text, "Отказ в регистрации безработным") || !strings.Contains(got[1].Text, f.GroundText.RU) ||
		!strings.Contains(got[1].Text, f.GroundText.KK) {
		t.Fatalf("the refusal's SMS: %+v", got)
	}
	// The State Corporation's operator does not see the centre's filings.
	if code := s.call("GET", "/filings/"+rc.RequestID, counterToken, "", nil, &p); code != http.StatusNotFound {
		t.Fatalf("the centre's filing at the counter: %d", code)
	}

	// S3 at the front office of the centre in East Kazakhstan.
	vko := s.login(ustKamCentre)
	cert := s.file(ustKamCentre, vko, counter.IntakeForm{Service: "unemployed-certificate", Applicant: daughter, Documents: idCard})
	// 001:997-999: one working day, Thursday to Friday.
	if want := cert.AcceptedAt.AddDate(0, 0, 1); !cert.DueAt.Equal(want) {
		t.Errorf("S3 due %s, want %s", cert.DueAt.In(egov.Almaty), want.In(egov.Almaty))
	}
	f = s.awaitState(vko, cert.RequestID, counter.StateReady)
	if f.Outcome != "certificate" || f.Flow != "P" || !strings.HasPrefix(f.ResultNumber, "UNC-2026-") {
		t.Fatalf("S3 filing %+v", f)
	}
	s.awaitNotice(vko, cert.RequestID)
	if got := texts(); len(got) != 3 || !strings.Contains(got[2].Text, "г. Усть-Каменогорска") || !strings.Contains(got[2].Text, "жұмыспен қамту орталығынан") {
		t.Fatalf("the certificate's SMS: %+v", got)
	}
	var out counter.Filing
	if code := s.call("POST", "/filings/"+cert.RequestID+"/hand-out", vko, "application/json", mustJSON(map[string]string{"iin": daughter}), &out); code != http.StatusOK || out.HandOut.To != "applicant" {
		t.Fatalf("hand-out: %d %+v", code, out)
	}
	// One not registered as unemployed gets the reasoned refusal.
	none := s.file(ustKamCentre, vko, counter.IntakeForm{Service: "unemployed-certificate", Applicant: student, Documents: idCard})
	if f := s.awaitState(vko, none.RequestID, counter.StateReady); f.Outcome != "refused" || f.Ground != "not-unemployed" {
		t.Fatalf("S3 of one not unemployed: %+v", f)
	}
	// S2 in East Kazakhstan: 2 working days from the local body's decision
	// (001:844-846), which comes 30 + 20 + 60 + 60 min and 1 working day
	// after the acceptance: Thursday 10:00 → 12:50, Friday 12:50, then
	// Monday and Tuesday: Tuesday 12:50. Its result is the centre's
	// certificate (001:795-806), so the SMS says it waits there.
	vkoS2 := s.file(ustKamCentre, vko, counter.IntakeForm{Service: "unemployed-registration", Applicant: student, Documents: idCard})
	if want := vkoS2.AcceptedAt.AddDate(0, 0, 5).Add(2*time.Hour + 50*time.Minute); !vkoS2.DueAt.Equal(want) {
		t.Errorf("S2 in East Kazakhstan due %s, want %s", vkoS2.DueAt.In(egov.Almaty), want.In(egov.Almaty))
	}
	f = s.awaitState(vko, vkoS2.RequestID, counter.StateReady)
	if f.Ground != "not-registered" || f.NoticeByPhone {
		t.Fatalf("S2 in East Kazakhstan: %+v", f)
	}
	s.awaitNotice(vko, vkoS2.RequestID)
	got, err := sms.Outbox(context.Background(), s.rdb.Client, s.rdb.Prefix, "+77475556677")
	if err != nil || len(got) != 2 || !strings.Contains(got[0].Text, "Результат услуги готов") { // her S3 and this S2
		t.Fatalf("the SMS of S2 in East Kazakhstan: %+v %v", got, err)
	}
}

// A registration as unemployed ends when its holder takes up work (the
// register of employment contracts says so at the labour-market system's
// next review); the job seeker's registration in Almaty, whose regulation
// lets people in work seek work, goes on. S3 is then refused.
func TestTakingUpWorkEndsTheRegistrationAsUnemployed(t *testing.T) {
	contracts := filepath.Join(t.TempDir(), "contracts.json")
	if err := os.WriteFile(contracts, []byte(`{"contracts": [{"iin": "791028302728", "employer": "ТОО «НОВАЯ РАБОТА» (TEST)", "bin": "081240003533", "from": "2026-12-10"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newCounterStackWith(t, stackOptions{contracts: contracts})
	s.jobSeekerAtTheCounter(daughter)
	token := s.login(almatyCentre)
	s2 := s.file(almatyCentre, token, counter.IntakeForm{Service: "unemployed-registration", Applicant: daughter, Documents: idCard})
	if f := s.awaitState(token, s2.RequestID, counter.StateReady); f.Outcome != "registered" {
		t.Fatalf("S2: %+v", f)
	}
	s.skipDays(8) // 11.12.2026: she works since the 10th
	if n, err := s.labour.Review(context.Background()); err != nil || n != 1 {
		t.Fatalf("review: %d %v", n, err)
	}
	vko := s.login(ustKamCentre)
	s3 := s.file(ustKamCentre, vko, counter.IntakeForm{Service: "unemployed-certificate", Applicant: daughter, Documents: idCard})
	if f := s.awaitState(vko, s3.RequestID, counter.StateReady); f.Outcome != "refused" || f.Ground != "not-unemployed" {
		t.Fatalf("S3 after she took up work: %+v", f)
	}
	// Still a job seeker: a new S2 is refused for her work, not for her
	// missing registration.
	again := s.file(almatyCentre, token, counter.IntakeForm{Service: "unemployed-registration", Applicant: daughter, Documents: idCard})
	if f := s.awaitState(token, again.RequestID, counter.StateReady); f.Ground != "labour-activity" {
		t.Fatalf("S2 again: %+v", f)
	}
}

// A registration filed at the counter that the citizen ends on the portal:
// the end is told in the portal's cabinet, where he follows the counter's
// filing, and it says that his registration as unemployed ends with it.
func TestEndOfACounterRegistrationReachesTheCabinet(t *testing.T) {
	s := newCounterStack(t)
	s1, _ := s.jobSeekerAtTheCounter(daughter)
	token := s.login(almatyCentre)
	s2 := s.file(almatyCentre, token, counter.IntakeForm{Service: "unemployed-registration", Applicant: daughter, Documents: idCard})
	s.awaitState(token, s2.RequestID, counter.StateReady)
	s.wantInCabinet(daughter, s1, "completed")

	// She leaves the register on the portal, signing with her own key.
	key, err := signing.LoadSigner("../fixtures/pki/keys/citizen.p12", pki.DefaultPassword)
	if err != nil {
		t.Fatal(err)
	}
	leave := &document.Request{RequestID: uuid.NewString(), ServiceCode: "job-seeker-deregistration", Region: "almaty-city", IssuedAt: today,
		Applicant: document.Applicant{IIN: daughter, Surname: "ЖАҚСЫЛЫҚОВ", GivenName: "АЙДОС"}, Form: map[string]string{"reason": "found-work"}}
	signed, err := key.Sign(leave.Document())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.portal.Submit(context.Background(), gateway.Submission{Session: &gateway.Session{IIN: daughter, Method: "password"}, Document: signed}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		page, err := s.portal.Cabinet(context.Background(), daughter, "", 50, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Messages {
			if m.Kind == "registration-ended" && m.RequestID == s1.RequestID {
				if m.Data["unemployed"] != "ended" || !strings.Contains(m.Text.RU, "безработного") {
					t.Fatalf("the end's message %+v", m)
				}
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the cabinet does not say the counter's registration ended")
}
