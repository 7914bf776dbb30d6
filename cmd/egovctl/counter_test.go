package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"egov/counter"
	"egov/internal/password"
	"egov/internal/redistest"
	"egov/signing"
)

// The passwords egovctl up prints are the built-in operators'.
func TestOperatorPasswordsAreTheBuiltInOnes(t *testing.T) {
	staff, err := counter.StateCorporation.LoadStaff("")
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range staff.All() {
		if !password.Check(op.PasswordHash, operatorPasswords[op.Login]) {
			t.Errorf("%s: the printed password is not his", op.Login)
		}
	}
}

// At the counter of the stack egovctl up starts, the Karaganda operator
// files S7 for a citizen through his daughter (her power of attorney in
// ЕНИС's test data holds until 13.09.2029), signing with the key up issued
// him; АРМ РШЭП answers, and the result is handed out to her.
func TestCounterOnTheStackUpStarts(t *testing.T) {
	addr, data := freeAddr(t), t.TempDir()
	_, _, log, _ := startUpAt(t, redistest.New(t), data, "--counter-listen", addr)
	base := "http://" + addr + counter.APIPrefix
	call := func(method, path, token, ct string, body []byte, out any) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
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
	// file logs the operator in, enters in, signs the draft with the key up
	// issued him, and waits for the result at the counter.
	file := func(login, key, in string) (string, counter.Filing) {
		t.Helper()
		var session struct{ Token string }
		if code := call("POST", "/sessions", "", "application/json", []byte(`{"login":"`+login+`","password":"`+operatorPasswords[login]+`"}`), &session); code != http.StatusCreated {
			t.Fatalf("login %s: %d\n%s", login, code, log.String())
		}
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
		`{"service":"tsa-membership-certificate","applicant":"900101300811","representative":{"iin":"791028302728","surname":"ОМАРОВА","givenName":"АЙГҮЛ","powerOfAttorney":"ENIS-2026-KRG-0001873"}}`)
	if f.Outcome != "certificate" {
		t.Fatalf("S7: %+v", f)
	}
	if code := call("POST", "/filings/"+f.ID+"/hand-out", token, "application/json", []byte(`{"iin":"791028302728"}`), &f); code != http.StatusOK || f.HandOut.To != "representative" {
		t.Fatalf("hand-out: %d %+v", code, f)
	}
	// G-B: S1 in Almaty, the applicant herself with her identity card.
	scan := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"))
	_, f = file("ala-op-03", "counter-operator-ala",
		`{"service":"job-seeker-registration","applicant":"791028302728","form":{"education":"higher"},"documents":[{"kind":"identity-document","fileName":"udv.pdf","content":"`+scan+`","expires":"2031-01-01"}]}`)
	if f.Outcome != "registered" {
		t.Fatalf("S1: %+v", f)
	}
}
