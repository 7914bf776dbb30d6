package corpus

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"
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
	rep := &Report{Results: []Result{
		{Entry: Entry{Seq: 1, Name: "0001-portal-post-accounts", Kind: KindPortal, Expect: Expect{Status: 201}}, Got: Expect{Status: 201}, Match: true},
		{Entry: Entry{Seq: 2, Name: "0002-shep-post", Kind: KindSHEP, Expect: Expect{Status: 400, Code: "SCE004"}}, Got: Expect{Status: 200, Code: "sendMessageResponse"}},
	}, Matches: 1, Differences: 1, Elapsed: time.Second}
	var buf bytes.Buffer
	if err := rep.WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	var suite struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &suite); err != nil {
		t.Fatal(err)
	}
	if suite.Tests != 2 || suite.Failures != 1 || suite.Cases[1].Failure == nil || !strings.Contains(suite.Cases[1].Failure.Message, "SCE004") {
		t.Fatalf("junit: %s", buf.String())
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	if !strings.Contains(table.String(), "DIFFERENT") || !strings.Contains(table.String(), "1 as recorded, 1 different") {
		t.Fatalf("table:\n%s", table.String())
	}
}
