package provider_test

import (
	"testing"
	"time"

	"egov/document"
	"egov/provider"
)

func TestDecide(t *testing.T) {
	rules, err := provider.DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	day := func(s string) *time.Time {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			panic(err)
		}
		return &t
	}
	id := document.AttachmentHeader{Kind: "identity-document", SHA256: "aa", Expires: day("2030-01-01")}
	found := provider.Person{Found: true, IdentityDocExpires: "2030-01-01"}
	request := func(service, iin string) *document.Request {
		return &document.Request{ServiceCode: service, Applicant: document.Applicant{IIN: iin}}
	}
	reg := func(iin string, atts ...document.AttachmentHeader) *document.Request {
		r := request("job-seeker-registration", iin)
		r.Attachments = atts
		return r
	}
	ref := func(iin, measure string) *document.Request {
		r := request("employment-referral", iin)
		r.Form = map[string]string{"measure": measure}
		r.Attachments = []document.AttachmentHeader{id}
		return r
	}
	in := func(region string, r *document.Request) *document.Request { r.Region = region; return r }
	s2 := func(iin string, atts ...document.AttachmentHeader) *document.Request {
		r := request("unemployed-registration", iin)
		r.Attachments = atts
		return r
	}
	named := provider.Person{Found: true, IdentityDocExpires: "2030-01-01", Surname: "ЖАҚСЫЛЫҚОВ", Name: "ЕРЛАН"}
	s3 := func(iin, surname, name string) *document.Request {
		r := in("east-kazakhstan", request("unemployed-certificate", iin))
		r.Applicant.Surname, r.Applicant.GivenName = surname, name
		r.Attachments = []document.AttachmentHeader{id}
		return r
	}
	tests := []struct {
		name    string
		app     *document.Request
		facts   provider.Facts
		outcome document.Outcome
		ground  string
	}{
		{"adult registers", reg("791028302728", id), provider.Facts{Now: now, Person: found}, "registered", ""},
		{"not in the persons register", reg("791028302728", id), provider.Facts{Now: now}, "refused", "data-unavailable"},
		{"under 16", reg("100203500443", id), provider.Facts{Now: now, Person: found}, "refused", "underage"},
		{"16 on the birthday", reg("100203500443", id), provider.Facts{Now: time.Date(2026, 2, 3, 10, 0, 0, 0, time.UTC), Person: found}, "registered", ""},
		{"no identity document", reg("791028302728"), provider.Facts{Now: now, Person: found}, "refused", "document-missing"},
		{"expired by its header", reg("791028302728", document.AttachmentHeader{Kind: "identity-document", Expires: day("2025-12-31")}), provider.Facts{Now: now, Person: found}, "refused", "document-expired"},
		{"expired by the register", reg("791028302728", id), provider.Facts{Now: now, Person: provider.Person{Found: true, IdentityDocExpires: "2024-02-10"}}, "refused", "document-expired"},
		{"already registered", reg("791028302728", id), provider.Facts{Now: now, Person: found, JobSeeker: true}, "refused", "already-registered"},
		{"bytes differ from the header", reg("791028302728", id), provider.Facts{Now: now, Person: found, AttachmentDigest: map[string]string{"aa": "bb"}}, "refused", "document-hash-mismatch"},
		{"referral without registration", ref("791028302728", "public-works"), provider.Facts{Now: now, Person: found}, "refused", "not-registered"},
		{"referral granted", ref("791028302728", "public-works"), provider.Facts{Now: now, Person: found, JobSeeker: true}, "referred", ""},
		{"unknown measure", ref("791028302728", "space-programme"), provider.Facts{Now: now, Person: found, JobSeeker: true}, "refused", "measure-unknown"},
		{"youth practice at 46", ref("791028302728", "youth-practice"), provider.Facts{Now: now, Person: found, JobSeeker: true}, "refused", "measure-not-eligible"},
		{"youth practice at 20", ref("050815600217", "youth-practice"), provider.Facts{Now: now, Person: found, JobSeeker: true}, "referred", ""},
		{"in work where the regulation checks it (001:556-559)", in("east-kazakhstan", reg("791028302728", id)), provider.Facts{Now: now, Person: found, Employed: true}, "refused", "labour-activity"},
		{"in work where it does not", in("almaty-city", reg("791028302728", id)), provider.Facts{Now: now, Person: found, Employed: true}, "registered", ""},
		{"out of work in East Kazakhstan", in("east-kazakhstan", reg("791028302728", id)), provider.Facts{Now: now, Person: found}, "registered", ""},
		{"referral without the identity document (п.9)", request("employment-referral", "791028302728"), provider.Facts{Now: now, Person: found, JobSeeker: true}, "refused", "document-missing"},
		{"S7: the family receives the assistance", request("tsa-membership-certificate", "800515400122"), provider.Facts{Now: now, Person: found, Assistance: provider.Assistance{Belongs: true}}, "certificate", ""},
		{"S7: not in the persons register", request("tsa-membership-certificate", "800515400122"), provider.Facts{Now: now}, "refused", "data-unavailable"},
		{"expiring today is not expired", reg("791028302728", document.AttachmentHeader{Kind: "identity-document", Expires: day("2026-01-15")}), provider.Facts{Now: now, Person: found}, "registered", ""},
		{"unknown service", request("space-travel", "791028302728"), provider.Facts{Now: now, Person: found}, "refused", "service-unknown"},
		{"a job seeker leaves at his request", request("job-seeker-deregistration", "791028302728"), provider.Facts{Now: now, Person: found, JobSeeker: true}, "deregistered", "at-own-request"},
		{"leaving a register one is not on", request("job-seeker-deregistration", "791028302728"), provider.Facts{Now: now, Person: found}, "refused", "not-registered"},
		{"S2: a job seeker out of work registers as unemployed", in("almaty-city", s2("791028302728", id)), provider.Facts{Now: now, Person: found, JobSeeker: true}, "registered", ""},
		{"S2: not a job seeker first", in("almaty-city", s2("791028302728", id)), provider.Facts{Now: now, Person: found}, "refused", "not-registered"},
		{"S2: unemployed already", in("almaty-city", s2("791028302728", id)), provider.Facts{Now: now, Person: found, JobSeeker: true, Unemployed: true}, "refused", "already-unemployed"},
		{"S2: in work (004)", in("almaty-city", s2("791028302728", id)), provider.Facts{Now: now, Person: found, JobSeeker: true, Employed: true}, "refused", "labour-activity"},
		{"S2: without the identity document (п.9)", in("almaty-city", s2("791028302728")), provider.Facts{Now: now, Person: found, JobSeeker: true}, "refused", "document-missing"},
		{"S2: under 16", in("almaty-city", s2("100203500443", id)), provider.Facts{Now: now, Person: found, JobSeeker: true}, "refused", "underage"},
		{"S3: registered as unemployed, the data match", s3("791028302728", "ЖАҚСЫЛЫҚОВ", "ЕРЛАН"), provider.Facts{Now: now, Person: named, JobSeeker: true, Unemployed: true}, "certificate", ""},
		{"S3: a job seeker, not unemployed", s3("791028302728", "ЖАҚСЫЛЫҚОВ", "ЕРЛАН"), provider.Facts{Now: now, Person: named, JobSeeker: true}, "refused", "not-unemployed"},
		{"S3: on no register", s3("791028302728", "ЖАҚСЫЛЫҚОВ", "ЕРЛАН"), provider.Facts{Now: now, Person: named}, "refused", "not-unemployed"},
		{"S3: another surname than the register's (001:987-989)", s3("791028302728", "ЖАКСЫЛЫКОВ", "ЕРЛАН"), provider.Facts{Now: now, Person: named, JobSeeker: true, Unemployed: true}, "refused", "identity-mismatch"},
		{"S3: registered under another surname", s3("791028302728", "ЖАҚСЫЛЫҚОВ", "ЕРЛАН"), provider.Facts{Now: now, Person: named, JobSeeker: true, Unemployed: true, UnemployedAs: "ОМАРОВ ЕРЛАН"}, "refused", "identity-mismatch"},
		{"S3: registered under the same names", s3("791028302728", "ЖАҚСЫЛЫҚОВ", "ЕРЛАН"), provider.Facts{Now: now, Person: named, JobSeeker: true, Unemployed: true, UnemployedAs: "ЖАҚСЫЛЫҚОВ ЕРЛАН"}, "certificate", ""},
	}
	for _, tt := range tests {
		d := rules.Decide(tt.app, tt.facts)
		if want := map[string]string{"S7: the family receives the assistance": "belongs",
			"S2: a job seeker out of work registers as unemployed": provider.KindUnemployed,
			"S3: registered as unemployed, the data match":         provider.KindUnemployedCertificate}[tt.name]; want != "" && d.Kind != want {
			t.Errorf("%s: kind %q, want %q", tt.name, d.Kind, want)
		}
		if d.Outcome != tt.outcome || d.Ground != tt.ground {
			t.Errorf("%s: %+v, want %s %s", tt.name, d, tt.outcome, tt.ground)
		}
		if d.Ground != "" && rules.Grounds[d.Ground].KK == "" {
			t.Errorf("%s: ground %s has no Kazakh text", tt.name, d.Ground)
		}
	}
}

// The certificate of S7 says "does not belong" as a result, not a refusal
// (003:719-723).
func TestCertificateOfNotBelonging(t *testing.T) {
	rules, err := provider.DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	app := &document.Request{ServiceCode: "tsa-membership-certificate", Applicant: document.Applicant{IIN: "791028302728"}}
	d := rules.Decide(app, provider.Facts{Now: time.Now(), Person: provider.Person{Found: true}})
	if d.Outcome != document.OutcomeCertificate || d.Kind != "does-not-belong" || d.Ground != "" {
		t.Fatalf("%+v, want a certificate of not belonging", d)
	}
}

// Every document п.9 lists must be attached; one other than the identity
// document missing is an incomplete package.
func TestEveryDocumentOfThePackage(t *testing.T) {
	rules, err := provider.DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	rules.Services["job-seeker-registration"] = provider.ServiceRules{Documents: []string{"identity-document", "employment-record"}}
	app := &document.Request{ServiceCode: "job-seeker-registration", Applicant: document.Applicant{IIN: "791028302728"},
		Attachments: []document.AttachmentHeader{{Kind: "identity-document", SHA256: "aa"}}}
	facts := provider.Facts{Now: time.Now(), Person: provider.Person{Found: true}}
	if d := rules.Decide(app, facts); d.Ground != "documents-incomplete" {
		t.Fatalf("%+v, want documents-incomplete", d)
	}
	app.Attachments = append(app.Attachments, document.AttachmentHeader{Kind: "employment-record", SHA256: "bb"})
	if d := rules.Decide(app, facts); d.Outcome != document.OutcomeRegistered {
		t.Fatalf("%+v, want registered", d)
	}
}
