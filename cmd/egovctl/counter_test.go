package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"egov/counter"
	"egov/gateway"
	"egov/internal/password"
	"egov/internal/redistest"
	"egov/signing"
)

// The passwords egovctl up prints are the built-in operators' and
// specialists'.
func TestOperatorPasswordsAreTheBuiltInOnes(t *testing.T) {
	for _, desk := range []counter.Desk{counter.StateCorporation, counter.EmploymentCentre} {
		staff, err := desk.LoadStaff("")
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range staff.All() {
			if !password.Check(op.PasswordHash, operatorPasswords[op.Login]) {
				t.Errorf("%s: the printed password is not his", op.Login)
			}
		}
	}
}

// At the counter of the stack egovctl up starts, the Karaganda operator
// files S7 for a citizen through his daughter (her power of attorney in
// ЕНИС's test data holds until 13.09.2029), signing with the key up issued
// him; АРМ РШЭП answers, and the result is handed out to her. The Almaty
// operator registers a job seeker (G-B), whom the employment centre of
// Almaty then registers as unemployed (S2, flow C), telling her by SMS.
func TestCounterOnTheStackUpStarts(t *testing.T) {
	addr, centreAddr, data := freeAddr(t), freeAddr(t), t.TempDir()
	_, _, log, _ := startUpAt(t, redistest.New(t), data, "--counter-listen", addr, "--centre-listen", centreAddr)
	base := "http://" + addr + counter.APIPrefix
	call := func(method, path, token, ct string, body []byte, out any) int {
		t.Helper()
		at := base
		if strings.HasPrefix(token, "czn:") {
			at, token = "http://"+centreAddr+counter.APIPrefix, token[4:]
		}
		req, _ := http.NewRequest(method, at+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		return resp.StatusCode
	}
	// login opens a session of an operator or a specialist at his desk.
	logIn := func(login string) string {
		t.Helper()
		var session struct{ Token string }
		desk := ""
		if strings.HasPrefix(login, "czn-") {
			desk = "czn:" // the employment centres' desk
		}
		if code := call("POST", "/sessions", desk, "application/json", []byte(`{"login":"`+login+`","password":"`+operatorPasswords[login]+`"}`), &session); code != http.StatusCreated {
			t.Fatalf("login %s: %d\n%s", login, code, log.String())
		}
		return desk + session.Token
	}
	cal, err := gateway.DefaultCalendar()
	if err != nil {
		t.Fatal(err)
	}
	// file logs the operator in, enters in, signs the draft with the key up
	// issued him, and waits for the result at the counter. The receipt's
	// due date must be the regulation's figure of working time after the
	// acceptance.
	file := func(login, key, in string, term time.Duration) (string, counter.Filing) {
		t.Helper()
		var session struct{ Token string }
		session.Token = logIn(login)
		var draft counter.Draft
		if code := call("POST", "/intakes", session.Token, "application/json", []byte(in), &draft); code != http.StatusCreated {
			t.Fatalf("intake: %d %+v", code, draft)
		}
		signer, err := signing.LoadSigner(filepath.Join(data, "pki", "keys", key+".p12"), demoPassword)
		if err != nil {
			t.Fatal(err)
		}
		signed, err := signer.Sign([]byte(draft.Document))
		if err != nil {
			t.Fatal(err)
		}
		var rc counter.Receipt
		if code := call("POST", "/intakes/"+draft.ID+"/submission", session.Token, "application/xml", signed, &rc); code != http.StatusCreated {
			t.Fatalf("submission: %d %+v\n%s", code, rc, log.String())
		}
		if due, err := cal.Due(rc.AcceptedAt, term); err != nil || !rc.DueAt.Equal(due) {
			t.Errorf("%s: due %s, the regulation's %v after %s is %s (%v)", login, rc.DueAt, term, rc.AcceptedAt, due, err)
		}
		var f counter.Filing
		for i := 0; i < 400 && f.State != counter.StateReady; i++ {
			time.Sleep(50 * time.Millisecond)
			call("GET", "/filings/"+rc.RequestID, session.Token, "", nil, &f)
		}
		if f.State != counter.StateReady {
			t.Fatalf("filing %+v\n%s", f, log.String())
		}
		return session.Token, f
	}
	// G-A: S7 in Karaganda, through the applicant's daughter.
	token, f := file("krg-op-01", "counter-operator-krg",
		`{"service":"tsa-membership-certificate","applicant":"900101300811","representative":{"iin":"791028302728","surname":"ОМАРОВА","givenName":"АЙГҮЛ","powerOfAttorney":"ENIS-2026-KRG-0001873"}}`,
		28*time.Minute) // 003:835-880 with АРМ РШЭП's steps of 003:733-754
	if f.Outcome != "certificate" {
		t.Fatalf("S7: %+v", f)
	}
	// The applicant is told by SMS; the gateway's delivery report is kept.
	for i := 0; i < 200 && (f.Notice == nil || f.Notice.Status == counter.NoticePending); i++ {
		time.Sleep(50 * time.Millisecond)
		call("GET", "/filings/"+f.ID, token, "", nil, &f)
	}
	if f.Notice == nil || f.Notice.Status != counter.NoticeDelivered || f.Notice.MessageID == "" {
		t.Fatalf("S7's notice: %+v", f.Notice)
	}
	// ЕНИС does not hold the power, or it expired: "data cannot be
	// obtained", naming the register, and nothing is filed.
	for _, in := range []string{
		`{"service":"tsa-membership-certificate","applicant":"900101300811","representative":{"iin":"791028302728","surname":"ОМАРОВА","givenName":"АЙГҮЛ","powerOfAttorney":"ENIS-2026-KRG-7777777"}}`,
		`{"service":"tsa-membership-certificate","applicant":"900101300811","representative":{"iin":"050815600217","surname":"ОМАРОВ","givenName":"АРМАН","powerOfAttorney":"ENIS-2024-KRG-0000542"}}`,
	} {
		var p counter.Problem
		if code := call("POST", "/intakes", token, "application/json", []byte(in), &p); code != http.StatusUnprocessableEntity || p.Code != "data-unobtainable" || p.Register != counter.RegisterPowers {
			t.Fatalf("intake %s: %d %+v", in, code, p)
		}
	}
	if code := call("POST", "/filings/"+f.ID+"/hand-out", token, "application/json", []byte(`{"iin":"791028302728"}`), &f); code != http.StatusOK || f.HandOut.To != "representative" {
		t.Fatalf("hand-out: %d %+v", code, f)
	}
	// G-B: S1 in Almaty, the applicant herself with her identity card.
	scan := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"))
	var p counter.Problem
	if code := call("POST", "/intakes", logIn("ala-op-03"), "application/json", []byte(`{"service":"job-seeker-registration","applicant":"791028302728","form":{"education":"higher"}}`), &p); code != http.StatusUnprocessableEntity ||
		p.Receipt == nil || p.Receipt.Kind != "refusal-to-accept" || strings.Join(p.Receipt.Missing, ",") != "identity-document" {
		t.Fatalf("an incomplete package: %d %+v", code, p)
	}
	_, f = file("ala-op-03", "counter-operator-ala",
		`{"service":"job-seeker-registration","applicant":"791028302728","form":{"education":"higher"},"documents":[{"kind":"identity-document","fileName":"udv.pdf","content":"`+scan+`","expires":"2031-01-01"}]}`,
		28*time.Minute) // 004:368-388 and п.10
	if f.Outcome != "registered" {
		t.Fatalf("S1: %+v", f)
	}
	// Flow C: S2 at the employment centre of Almaty; the centre tells her
	// the date by SMS.
	token, f = file("czn-ala-01", "employment-centre-ala",
		`{"service":"unemployed-registration","applicant":"791028302728","documents":[{"kind":"identity-document","fileName":"udv.pdf","content":"`+scan+`","expires":"2031-01-01"}]}`,
		17*time.Minute+3*gateway.WorkingDay) // 004:484-492
	if f.Outcome != "registered" || f.Flow != "C" || f.ResultNumber == "" {
		t.Fatalf("S2: %+v", f)
	}
	for i := 0; i < 200 && (f.Notice == nil || f.Notice.Status == counter.NoticePending); i++ {
		time.Sleep(50 * time.Millisecond)
		call("GET", "/filings/"+f.ID, token, "", nil, &f)
	}
	if f.Notice == nil || f.Notice.Status != counter.NoticeDelivered {
		t.Fatalf("S2's notice: %+v", f.Notice)
	}
}
