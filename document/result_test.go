package document_test

import (
	"os"
	"strings"
	"testing"

	"egov"
	"egov/document"
)

// aResult is a registration as the labour-market system writes it.
func aResult() *document.Result {
	return &document.Result{RequestID: "6f1c2a8e-4b7d-4f3e-9a51-0c2d7e8b9f10", ServiceCode: "job-seeker-registration",
		Outcome: document.OutcomeRegistered, ProviderBIN: "940140000385", Applicant: "791028302728",
		Number: "JS-2026-000123", Date: "2026-11-24"}
}

func aRefusal() *document.Result {
	r := aResult()
	r.Outcome, r.Number = document.OutcomeRefused, ""
	r.Ground = &document.Ground{Code: "underage", Text: egov.Message{RU: "Заявителю нет 16 лет",
		KK: "Өтініш берушіге 16 жас толмаған", EN: "The applicant is under 16"}}
	return r
}

// anEnding is the notice that a job seeker's registration ended.
func anEnding() *document.Result {
	r := aResult()
	r.Outcome = document.OutcomeDeregistered
	r.EndGround = &document.Ground{Code: "labour-activity-started", Text: egov.Message{RU: "Заключён трудовой договор",
		KK: "Еңбек шарты жасалды", EN: "An employment contract was concluded"}}
	return r
}

// TestResultValues writes results with one value changed and reads them
// back: what the rules allow comes back unchanged, the rest is refused.
func TestResultValues(t *testing.T) {
	tests := []struct {
		name   string
		result func() *document.Result
		ok     bool
	}{
		{"registration", aResult, true},
		{"refusal with its ground", aRefusal, true},
		{"referral with its measure", func() *document.Result {
			r := aResult()
			r.Outcome, r.Kind, r.Number = document.OutcomeReferred, "public-works", "REF-2026-000001"
			return r
		}, true},
		{"certificate", func() *document.Result {
			r := aResult()
			r.Outcome, r.Kind = document.OutcomeCertificate, "does-not-belong"
			return r
		}, true},
		{"ground wording with markup", func() *document.Result {
			r := aRefusal()
			r.Ground.Text.EN = "under 16 & <not> \"eligible\"\r\nsee the rules"
			return r
		}, true},
		{"ended registration with its end ground", anEnding, true},
		{"ended registration without its end ground", func() *document.Result { r := anEnding(); r.EndGround = nil; return r }, false},
		{"ended registration without its number", func() *document.Result { r := anEnding(); r.Number = ""; return r }, false},
		{"registration with an end ground", func() *document.Result { r := anEnding(); r.Outcome = document.OutcomeRegistered; return r }, false},
		{"refusal with an end ground too", func() *document.Result { r := aRefusal(); r.EndGround = anEnding().EndGround; return r }, false},
		{"refusal without a ground", func() *document.Result { r := aRefusal(); r.Ground = nil; return r }, false},
		{"registration with a ground", func() *document.Result { r := aRefusal(); r.Outcome = document.OutcomeRegistered; return r }, false},
		{"unknown outcome", func() *document.Result { r := aResult(); r.Outcome = "postponed"; return r }, false},
		{"outcome missing", func() *document.Result { r := aResult(); r.Outcome = ""; return r }, false},
		{"request id not a UUID", func() *document.Result { r := aResult(); r.RequestID = "JS-1"; return r }, false},
		{"service code not a code", func() *document.Result { r := aResult(); r.ServiceCode = "Job"; return r }, false},
		{"applicant's IIN invalid", func() *document.Result { r := aResult(); r.Applicant = "791028302729"; return r }, false},
		{"applicant missing", func() *document.Result { r := aResult(); r.Applicant = ""; return r }, false},
		{"provider's BIN invalid", func() *document.Result { r := aResult(); r.ProviderBIN = "940140000386"; return r }, false},
		{"date not a date", func() *document.Result { r := aResult(); r.Date = "24.11.2026"; return r }, false},
		{"date missing", func() *document.Result { r := aResult(); r.Date = ""; return r }, false},
		{"kind not a code", func() *document.Result { r := aResult(); r.Kind = "Public Works"; return r }, false},
		{"ground code not a code", func() *document.Result { r := aRefusal(); r.Ground.Code = "Under Age"; return r }, false},
	}
	for _, tt := range tests {
		want := tt.result()
		got, err := document.ReadResult(parse(t, want.Document()))
		if !tt.ok {
			wantCode(t, tt.name, err, egov.CodeAnswerUnmatched)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
		} else if !sameResult(got, want) {
			t.Errorf("%s: read back %+v, want %+v", tt.name, got, want)
		}
	}
}

// TestResultStructure changes the written document's structure.
func TestResultStructure(t *testing.T) {
	registered, refused := string(aResult().Document()), string(aRefusal().Document())
	tests := []struct {
		name, doc, old, new string
		ok                  bool
	}{
		{"as written", registered, "", "", true},
		{"no version attribute", registered, ` version="1"`, "", true},
		{"the enveloped signature last", registered, "</ServiceResult>", `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/></ServiceResult>`, true},
		{"version 2", registered, `version="1"`, `version="2"`, false},
		{"unknown root attribute", registered, `version="1"`, `version="1" lang="ru"`, false},
		{"root in no namespace", registered, ` xmlns="urn:egov-gateway:result:v1"`, "", false},
		{"the request's namespace", registered, "result:v1", "request:v1", false},
		{"another root", registered, "ServiceResult", "ProviderNotice", false},
		{"outcome before the service", registered, "<ServiceCode>job-seeker-registration</ServiceCode>\n  <Outcome>registered</Outcome>",
			"<Outcome>registered</Outcome>\n  <ServiceCode>job-seeker-registration</ServiceCode>", false},
		{"number after the date", registered, "<Number>JS-2026-000123</Number>\n  <Date>2026-11-24</Date>",
			"<Date>2026-11-24</Date>\n  <Number>JS-2026-000123</Number>", false},
		{"unknown element", registered, "</ServiceResult>", "<Comment>x</Comment></ServiceResult>", false},
		{"element of another namespace", registered, "<Number>JS-2026-000123</Number>", `<Number xmlns="urn:x">JS-2026-000123</Number>`, false},
		{"text element with a child", registered, "<Number>JS-2026-000123</Number>", "<Number><b>JS</b></Number>", false},
		{"outcome with an attribute", registered, "<Outcome>", `<Outcome lang="en">`, false},
		{"ground without its Kazakh", refused, "<Kk>Өтініш берушіге 16 жас толмаған</Kk>", "", false},
		{"ground languages out of order", refused, "<Ru>Заявителю нет 16 лет</Ru><Kk>Өтініш берушіге 16 жас толмаған</Kk>",
			"<Kk>Өтініш берушіге 16 жас толмаған</Kk><Ru>Заявителю нет 16 лет</Ru>", false},
		{"ground with a fourth language", refused, "</En>", "</En><De>x</De>", false},
		{"ground with an unknown attribute", refused, `code="underage"`, `code="underage" severity="high"`, false},
		{"ground without a code", refused, ` code="underage"`, "", false},
		{"a signature inside the ground", refused, "</En>", `</En><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/>`, false},
	}
	for _, tt := range tests {
		doc := tt.doc
		if tt.old != "" {
			if !strings.Contains(doc, tt.old) {
				t.Fatalf("%s: the writer's output no longer holds %q", tt.name, tt.old)
			}
			doc = strings.ReplaceAll(doc, tt.old, tt.new)
		}
		_, err := document.ReadResult(parse(t, []byte(doc)))
		if tt.ok && err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if !tt.ok {
			wantCode(t, tt.name, err, egov.CodeAnswerUnmatched)
		}
	}
}

// TestResultSignedRoundTrip signs what the writer wrote with the
// provider's key and reads the verifier's element, as the portal does.
func TestResultSignedRoundTrip(t *testing.T) {
	for _, want := range []*document.Result{aResult(), aRefusal()} {
		got, err := document.ReadResult(verified(t, "provider", want.Document()))
		if err != nil {
			t.Fatalf("%s: %v", want.Outcome, err)
		}
		if !sameResult(got, want) {
			t.Fatalf("read back %+v, want %+v", got, want)
		}
	}
}

// TestResultFixture: the signing fixture of the provider is only a
// signature test; it lacks the service, applicant and date, and the
// reader says so rather than filing it.
func TestResultFixture(t *testing.T) {
	data, err := os.ReadFile("../fixtures/signing/valid-provider.xml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := verifier(t).Verify(t.Context(), data)
	if err != nil {
		t.Fatal(err)
	}
	_, err = document.ReadResult(res.Element)
	wantCode(t, "valid-provider.xml", err, egov.CodeAnswerUnmatched)
}
