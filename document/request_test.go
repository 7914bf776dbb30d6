package document_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"egov"
	"egov/document"
)

// aRequest is a valid job-seeker registration with every optional value set.
func aRequest() *document.Request {
	expires := time.Date(2030, 1, 1, 0, 0, 0, 0, egov.Almaty)
	return &document.Request{
		RequestID: "6f1c2a8e-4b7d-4f3e-9a51-0c2d7e8b9f10", ServiceCode: "job-seeker-registration", Region: "almaty-city",
		IssuedAt: time.Date(2026, 6, 1, 11, 0, 0, 0, time.FixedZone("", 5*3600)),
		Applicant: document.Applicant{IIN: "791028302728", BIN: "940140000385", Surname: "ЖАҚСЫЛЫҚОВ", GivenName: "АЙДОС",
			Patronymic: "СЕРІКҰЛЫ", Phone: "+77010000000"},
		Form: map[string]string{"education": "higher", "profession": "Инженер-программист"},
		Attachments: []document.AttachmentHeader{{Kind: "identity-document", FileName: "udostoverenie.pdf", MIMEType: "application/pdf",
			Size: 48213, SHA256: "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b", Expires: &expires}},
	}
}

// aFiledRequest is aRequest filed at a State Corporation counter by a
// representative with a notarised power of attorney.
func aFiledRequest() *document.Request {
	r := aRequest()
	r.Filing = &document.Filing{Channel: document.ChannelStateCorporation, Office: "krg-con-01", OperatorIIN: "760903400210",
		Representative: &document.Representative{IIN: "800515400122", Surname: "СЕЙТҚАЛИЕВА", GivenName: "ГҮЛНАР", Patronymic: "МАРАТҚЫЗЫ",
			PowerOfAttorney: document.PowerOfAttorney{Number: "ENIS-2026-ALM-0040217", Notary: "АХМЕТОВ Б. С., нотариус г. Алматы",
				Until: time.Date(2027, 2, 1, 0, 0, 0, 0, egov.Almaty)}}}
	return r
}

// TestRequestValues writes requests with one value changed and reads them
// back: what the rules allow comes back unchanged, the rest is refused with
// the code the portal answers with.
func TestRequestValues(t *testing.T) {
	many := func(n int) []document.AttachmentHeader {
		h := aRequest().Attachments[0]
		out := make([]document.AttachmentHeader, n)
		for i := range out {
			out[i] = h
		}
		return out
	}
	tests := []struct {
		name   string
		change func(*document.Request)
		code   egov.Code
	}{
		{"every value set", func(*document.Request) {}, ""},
		{"only what is required", func(r *document.Request) {
			r.Applicant.BIN, r.Applicant.Patronymic, r.Applicant.Phone = "", "", ""
			r.Form, r.Attachments = nil, nil
		}, ""},
		{"attachment without expiry", func(r *document.Request) { r.Attachments[0].Expires = nil }, ""},
		{"issued in UTC with a fraction of a second", func(r *document.Request) {
			r.IssuedAt = time.Date(2026, 6, 1, 6, 0, 0, 250_000_000, time.UTC)
		}, ""},
		{"markup and whitespace in values", func(r *document.Request) {
			r.Form["profession"] = "R&D <lead> \"quoted\"\r\nsecond line\tand a tab"
			r.Attachments[0].FileName = "a&b <c> \"d\"\te\nf\rg.pdf"
			r.Attachments[0].MIMEType = "application/pdf; name=\"x&y\""
		}, ""},
		{"20 attachments", func(r *document.Request) { r.Attachments = many(20) }, ""},
		{"21 attachments", func(r *document.Request) { r.Attachments = many(21) }, egov.CodeFormInvalid},
		{"51 form fields", func(r *document.Request) {
			for i := range 51 {
				r.Form[fmt.Sprintf("f%d", i)] = "x"
			}
		}, egov.CodeFormInvalid},
		{"request id in capitals", func(r *document.Request) { r.RequestID = strings.ToUpper(r.RequestID) }, egov.CodeFormInvalid},
		{"request id not a UUID", func(r *document.Request) { r.RequestID = "42" }, egov.CodeFormInvalid},
		{"service code not a code", func(r *document.Request) { r.ServiceCode = "Job Seeker" }, egov.CodeFormInvalid},
		{"region empty", func(r *document.Request) { r.Region = "" }, egov.CodeFormInvalid},
		{"issued after the year 9999", func(r *document.Request) { r.IssuedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, egov.CodeFormInvalid},
		{"IIN with a wrong check digit", func(r *document.Request) { r.Applicant.IIN = "791028302729" }, egov.CodeIINInvalid},
		{"IIN missing", func(r *document.Request) { r.Applicant.IIN = "" }, egov.CodeFormInvalid},
		{"BIN with a wrong check digit", func(r *document.Request) { r.Applicant.BIN = "940140000386" }, egov.CodeBINInvalid},
		{"surname missing", func(r *document.Request) { r.Applicant.Surname = "" }, egov.CodeFormInvalid},
		{"given name of 101 letters", func(r *document.Request) { r.Applicant.GivenName = strings.Repeat("Ә", 101) }, egov.CodeFormInvalid},
		{"phone without +7", func(r *document.Request) { r.Applicant.Phone = "87010000000" }, egov.CodePhoneInvalid},
		{"field name not a code", func(r *document.Request) { r.Form["Bad Name"] = "x" }, egov.CodeFormInvalid},
		{"attachment kind empty", func(r *document.Request) { r.Attachments[0].Kind = "" }, egov.CodeFormInvalid},
		{"file name with a path", func(r *document.Request) { r.Attachments[0].FileName = "../id.pdf" }, egov.CodeFormInvalid},
		{"file name of 101 characters", func(r *document.Request) { r.Attachments[0].FileName = strings.Repeat("a", 101) }, egov.CodeFormInvalid},
		{"media type without a slash", func(r *document.Request) { r.Attachments[0].MIMEType = "pdf" }, egov.CodeFormInvalid},
		{"size zero", func(r *document.Request) { r.Attachments[0].Size = 0 }, egov.CodeFormInvalid},
		{"digest in capitals", func(r *document.Request) {
			r.Attachments[0].SHA256 = strings.ToUpper(r.Attachments[0].SHA256)
		}, egov.CodeFormInvalid},
	}
	filed := func(change func(*document.Filing)) func(*document.Request) {
		return func(r *document.Request) { *r = *aFiledRequest(); change(r.Filing) }
	}
	tests = append(tests, []struct {
		name   string
		change func(*document.Request)
		code   egov.Code
	}{
		{"filed by a representative", filed(func(*document.Filing) {}), ""},
		{"filed for an applicant who came", filed(func(f *document.Filing) { f.Representative = nil }), ""},
		{"filed at an employment centre", filed(func(f *document.Filing) { f.Channel = document.ChannelEmploymentCentre }), ""},
		{"a representative without a patronymic", filed(func(f *document.Filing) { f.Representative.Patronymic = "" }), ""},
		{"filed on the portal", filed(func(f *document.Filing) { f.Channel = "portal" }), egov.CodeFormInvalid},
		{"an office not a code", filed(func(f *document.Filing) { f.Office = "Караганда 1" }), egov.CodeFormInvalid},
		{"an operator's IIN with a wrong check digit", filed(func(f *document.Filing) { f.OperatorIIN = "760903400211" }), egov.CodeIINInvalid},
		{"a representative's IIN with a wrong check digit", filed(func(f *document.Filing) { f.Representative.IIN = "800515400123" }), egov.CodeIINInvalid},
		{"the applicant his own representative", filed(func(f *document.Filing) { f.Representative.IIN = "791028302728" }), egov.CodeFormInvalid},
		{"a representative without a surname", filed(func(f *document.Filing) { f.Representative.Surname = "" }), egov.CodeFormInvalid},
		{"a power of attorney not ЕНИС's", filed(func(f *document.Filing) { f.Representative.PowerOfAttorney.Number = "№ 15" }), egov.CodeFormInvalid},
		{"a power of attorney without its notary", filed(func(f *document.Filing) { f.Representative.PowerOfAttorney.Notary = "" }), egov.CodeFormInvalid},
	}...)
	for _, tt := range tests {
		want := aRequest()
		tt.change(want)
		got, err := document.ReadRequest(parse(t, want.Document()))
		wantCode(t, tt.name, err, tt.code)
		if err == nil && !sameRequest(got, want) {
			t.Errorf("%s: read back %+v, want %+v", tt.name, got, want)
		}
	}
}

// TestRequestStructure changes the written document's structure: the
// schema's order, namespaces and vocabulary are enforced.
func TestRequestStructure(t *testing.T) {
	base := string(aRequest().Document())
	tests := []struct {
		name     string
		old, new string
		code     egov.Code
	}{
		{"as written", "", "", ""},
		{"no version attribute (the schema's fixed value)", ` version="1"`, "", ""},
		{"compact, without indentation", "\n  ", "", ""},
		{"version 2", `version="1"`, `version="2"`, egov.CodeFormInvalid},
		{"root in no namespace", ` xmlns="urn:egov-gateway:request:v1"`, "", egov.CodeFormInvalid},
		{"root in version 2's namespace", "request:v1", "request:v2", egov.CodeFormInvalid},
		{"another root", "ServiceRequest", "ServiceResult", egov.CodeFormInvalid},
		{"region before the service", "<ServiceCode>job-seeker-registration</ServiceCode>\n  <Region>almaty-city</Region>",
			"<Region>almaty-city</Region>\n  <ServiceCode>job-seeker-registration</ServiceCode>", egov.CodeFormInvalid},
		{"element of another namespace", "<Region>almaty-city</Region>", `<Region xmlns="urn:other">almaty-city</Region>`, egov.CodeFormInvalid},
		{"unknown element at the end", "</ServiceRequest>", "<Extra/></ServiceRequest>", egov.CodeFormInvalid},
		{"form missing", "  <Form>\n    <Field name=\"education\">higher</Field>\n    <Field name=\"profession\">Инженер-программист</Field>\n  </Form>\n", "", egov.CodeFormInvalid},
		{"text element with a child", "<Region>almaty-city</Region>", "<Region><b>almaty-city</b></Region>", egov.CodeFormInvalid},
		{"text element with an attribute", "<Region>", `<Region lang="ru">`, egov.CodeFormInvalid},
		{"text element redeclaring the namespace", "<Region>", `<Region xmlns="urn:egov-gateway:request:v1">`, ""},
		{"phone before the surname", "<Surname>ЖАҚСЫЛЫҚОВ</Surname>", "<Phone>+77010000000</Phone><Surname>ЖАҚСЫЛЫҚОВ</Surname>", egov.CodeFormInvalid},
		{"unknown applicant element", "<Patronymic>", "<Nickname>x</Nickname><Patronymic>", egov.CodeFormInvalid},
		{"field with a second attribute", `<Field name="education"`, `<Field type="x" name="education"`, egov.CodeFormInvalid},
		{"field given twice", `<Field name="profession"`, `<Field name="education"`, egov.CodeFormInvalid},
		{"form holds something else", "</Form>", "<Note>x</Note></Form>", egov.CodeFormInvalid},
		{"attachment with an unknown attribute", "<Attachment ", `<Attachment colour="red" `, egov.CodeFormInvalid},
		{"attachment with a namespaced attribute", "<Attachment ", `<Attachment xmlns:x="urn:x" x:kind="a" `, egov.CodeFormInvalid},
		{"attachment with content", `expires="2030-01-01"/>`, `expires="2030-01-01"><x/></Attachment>`, egov.CodeFormInvalid},
		{"expiry not a date", "2030-01-01", "2030-13-01", egov.CodeFormInvalid},
		{"issue time without a zone", "2026-06-01T11:00:00+05:00", "2026-06-01T11:00:00", egov.CodeFormInvalid},
		{"the enveloped signature last", "</ServiceRequest>",
			`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/></ServiceRequest>`, ""},
		{"two signatures", "</ServiceRequest>",
			`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/></ServiceRequest>`, egov.CodeFormInvalid},
		{"a signature not last", "<Attachments>",
			`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/><Attachments>`, egov.CodeFormInvalid},
		{"a Signature of another namespace", "</ServiceRequest>", "<Signature/></ServiceRequest>", egov.CodeFormInvalid},
	}
	for _, tt := range tests {
		doc := base
		if tt.old != "" {
			if !strings.Contains(doc, tt.old) {
				t.Fatalf("%s: the writer's output no longer holds %q", tt.name, tt.old)
			}
			doc = strings.ReplaceAll(doc, tt.old, tt.new)
		}
		_, err := document.ReadRequest(parse(t, []byte(doc)))
		wantCode(t, tt.name, err, tt.code)
	}
}

// TestRequestFixtures reads the signed fixtures the way the portal does,
// through the verifier: every valid one is accepted.
func TestRequestFixtures(t *testing.T) {
	f, err := os.Open("../fixtures/signing/expected.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	read := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if strings.HasPrefix(cols[0], "#") || len(cols) < 3 || cols[1] != "-" {
			continue
		}
		data, err := os.ReadFile(filepath.Join("../fixtures/signing", cols[0]))
		if err != nil {
			t.Fatal(err)
		}
		res, err := verifier(t).Verify(t.Context(), data)
		if err != nil {
			t.Fatalf("%s: %v", cols[0], err)
		}
		if res.Element.Tag != "ServiceRequest" {
			continue // the provider's fixture: see TestResultFixture
		}
		r, err := document.ReadRequest(res.Element)
		if err != nil {
			t.Errorf("%s: %v", cols[0], err)
			continue
		}
		if r.Applicant.IIN != cols[2] {
			t.Errorf("%s: applicant %s, want %s", cols[0], r.Applicant.IIN, cols[2])
		}
		read++
	}
	if read < 3 {
		t.Fatalf("only %d valid request fixtures read", read)
	}
}

// TestRequestEnvelopes reads the request of every recorded submission that
// the portal got past the document's reading (accepted, or refused by a
// later step): the reader accepts each.
func TestRequestEnvelopes(t *testing.T) {
	data, err := os.ReadFile("../fixtures/envelopes/corpus.json")
	if err != nil {
		t.Fatal(err)
	}
	var corpus []struct {
		File, ContentType string
		Expect            struct{ Code egov.Code }
	}
	if err := json.Unmarshal(data, &corpus); err != nil {
		t.Fatal(err)
	}
	// The refusals that come after the request was read.
	later := map[egov.Code]bool{"": true, egov.CodeRequestReplayed: true, egov.CodeServiceNotOnPortal: true,
		egov.CodeRegionNotServed: true, egov.CodeAttachmentMissing: true, egov.CodeAttachmentMismatch: true,
		egov.CodeAttachmentUndeclared: true, egov.CodeAttachmentRejected: true, egov.CodeRequestStale: true,
		egov.CodeIINMismatch: true}
	read := 0
	for _, e := range corpus {
		if !strings.HasSuffix(e.File, ".multipart") || !later[e.Expect.Code] {
			continue
		}
		_, params, err := mime.ParseMediaType(e.ContentType)
		if err != nil {
			t.Fatal(err)
		}
		body, err := os.Open(filepath.Join("../fixtures/envelopes", e.File))
		if err != nil {
			t.Fatal(err)
		}
		part, err := multipart.NewReader(body, params["boundary"]).NextPart()
		if err != nil || part.FormName() != "request" {
			t.Fatalf("%s: no request part (%v)", e.File, err)
		}
		doc, _ := io.ReadAll(part)
		body.Close()
		if _, err := document.ReadRequest(parse(t, doc)); err != nil {
			t.Errorf("%s (expected %q): %v", e.File, e.Expect.Code, err)
		}
		read++
	}
	if read < 10 {
		t.Fatalf("only %d recorded requests read", read)
	}
}

// TestRequestSignedRoundTrip signs what the writer wrote and reads the
// verifier's element: the request survives signing unchanged.
func TestRequestSignedRoundTrip(t *testing.T) {
	want := aRequest()
	want.Applicant.BIN = "" // the citizen's key carries no BIN
	// No carriage return here: signing.Signer re-serialises the document
	// with etree, which writes a CR raw, and the parser on the other side
	// reads it as LF, so such a signature never verifies (a defect of the
	// signer; the unsigned round trip above covers CRs).
	want.Form["profession"] = "R&D <lead> \"quoted\"\nsecond line"
	got, err := document.ReadRequest(verified(t, "citizen", want.Document()))
	if err != nil {
		t.Fatal(err)
	}
	if !sameRequest(got, want) {
		t.Fatalf("read back %+v, want %+v", got, want)
	}
}
