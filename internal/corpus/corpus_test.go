package corpus

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestJudge(t *testing.T) {
	accepted := Expect{Status: 202}
	stale := Expect{Status: 422, Code: "request-stale"}
	if ok, _ := judge(accepted, accepted, false); !ok {
		t.Fatal("equal answers differ")
	}
	if ok, note := judge(accepted, stale, true); !ok || !strings.Contains(note, "--resign-with") {
		t.Fatalf("an old document sent as recorded: %v %q", ok, note)
	}
	if ok, _ := judge(accepted, stale, false); ok {
		t.Fatal("a re-signed document refused as stale passed")
	}
	if ok, _ := judge(accepted, Expect{Status: 400, Code: "signature-invalid"}, true); ok {
		t.Fatal("another refusal passed")
	}
}

func TestMaskerIsConsistentAndThorough(t *testing.T) {
	m := NewMasker()
	in := []byte(`{"iin":"791028302728","password":"Samal-2026-parol","phone":"+77011234567"}
<Applicant><IIN>791028302728</IIN><Surname>ЖАҚСЫЛЫҚОВ</Surname><GivenName>АЙДОС</GivenName><Phone>+77011234567</Phone></Applicant>
&lt;Surname&gt;ЖАҚСЫЛЫҚОВ&lt;/Surname&gt;&lt;IIN&gt;900101300811&lt;/IIN&gt;
<ProviderBIN>940140000385</ProviderBIN><ds:X509Certificate>MIIDxTCCAq2gAwIBAgIQ</ds:X509Certificate><password>portal-secret</password>
&lt;SMSRequest xmlns="urn:egov-gateway:sms:v1"&gt;&lt;Phone&gt;+77011234567&lt;/Phone&gt;&lt;Text&gt;egov: код 582034&lt;/Text&gt;&lt;/SMSRequest&gt;
{"iin":"791028302728","code":"493817","signedChallenge":"\u003cds:X509Certificate\u003eMIIEzjCCA7ag\nAwIBAgIRAL\u003c/ds:X509Certificate\u003e"}`)
	out := string(m.Mask(in))
	for _, secret := range []string{"791028302728", "900101300811", "ЖАҚСЫЛЫҚОВ", "АЙДОС", "+77011234567", "Samal-2026-parol", "portal-secret", "MIIDxTCC", "MIIEzjCC", "AwIBAgIRAL", "493817", "582034"} {
		if strings.Contains(out, secret) {
			t.Errorf("masked output still holds %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "940140000385") {
		t.Error("a BIN (not personal data) was masked")
	}
	again := string(m.Mask(in))
	if again != out {
		t.Error("masking is not consistent")
	}
	if strings.Count(out, "МАСКА-1") != 2 {
		t.Errorf("the same surname got different stand-ins:\n%s", out)
	}
}

func TestJUnitReport(t *testing.T) {
	long := "/api/v1/services/job-seeker-registration/skeleton?region=east-kazakhstan"
	body := []byte(`{"code":"account-exists","detail":"` + strings.Repeat("ж", 5000) + `"}`)
	started := time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)
	rep := &Report{Results: []Result{
		{Entry: Entry{Seq: 1, Name: "0001-portal-get-services-job-seeker-registration-skeleto", Kind: KindPortal, Method: "GET", Path: long, Expect: Expect{Status: 200}}, Got: Expect{Status: 200}, Match: true, Duration: 15 * time.Millisecond},
		{Entry: Entry{Seq: 2, Name: "0002-portal-post-accounts", Kind: KindPortal, Method: "POST", Path: "/api/v1/accounts", Expect: Expect{Status: 201}},
			Got: Expect{Status: 409, Code: "account-exists"}, GotBody: body, GotSize: len(body)},
	}, Matches: 1, Differences: 1, Started: started, Elapsed: time.Second, Hostname: "ci-runner-7", Adapted: []string{"re-signed 1 document"}}
	var buf bytes.Buffer
	if err := rep.WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName xml.Name `xml:"testsuites"`
		Suites  []struct {
			Name       string `xml:"name,attr"`
			Tests      int    `xml:"tests,attr"`
			Failures   int    `xml:"failures,attr"`
			Hostname   string `xml:"hostname,attr"`
			Timestamp  string `xml:"timestamp,attr"`
			Properties []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Cases []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Time      string `xml:"time,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				SystemOut string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("suites: %s", buf.String())
	}
	s := doc.Suites[0]
	if s.Tests != 2 || s.Failures != 1 || s.Hostname != "ci-runner-7" || s.Timestamp != "2026-06-01T09:30:00Z" {
		t.Fatalf("suite attributes: %+v", s)
	}
	if len(s.Properties) != 1 || s.Properties[0].Value != "re-signed 1 document" {
		t.Fatalf("properties: %+v", s.Properties)
	}
	ok, diff := s.Cases[0], s.Cases[1]
	if ok.Name != "0001 GET "+long || ok.Classname != "replay.portal" || ok.Time != "0.015" || ok.Failure != nil {
		t.Fatalf("passing case: %+v", ok)
	}
	if diff.Failure == nil || diff.Failure.Message != "expected 201, got 409 account-exists" {
		t.Fatalf("failing case: %+v", diff)
	}
	for _, text := range []string{diff.Failure.Text, diff.SystemOut} {
		if !strings.Contains(text, "expected: 201") || !strings.Contains(text, "got:      409 account-exists") || !strings.Contains(text, `{"code":"account-exists"`) {
			t.Fatalf("the difference is not shown:\n%s", text)
		}
		if len(text) > junitOutputBound+1024 || !strings.Contains(text, "more bytes]") {
			t.Fatalf("the answer body is not cut to the bound (%d bytes)", len(text))
		}
		if !utf8.ValidString(text) {
			t.Fatal("the answer body was cut inside a character")
		}
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	if !strings.Contains(table.String(), "DIFFERENT") || !strings.Contains(table.String(), "1 as recorded, 1 different") {
		t.Fatalf("table:\n%s", table.String())
	}
}
