package enis_test

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"egov/internal/redistest"
	"egov/registers/enis"
	"egov/shep"
	"egov/shep/soap"
)

// The built-in data set's powers (fixtures/enis/powers.json).
const (
	everyService = "ENIS-2026-KRG-0001873" // 900101300811 for 791028302728, 2026-09-14 … 2029-09-13
	jobsOnly     = "ENIS-2026-ALM-0040217" // 791028302728 for 800515400122, job-seeker services
	expired      = "ENIS-2024-KRG-0000542" // 900101300811 for 050815600217, until 2025-02-28
	revoked      = "ENIS-2026-KRG-0001510" // 900101300811 for 800515400122, revoked 2026-08-03
)

func ask(t *testing.T, r *enis.Register, q enis.Request) string {
	t.Helper()
	data, _ := xml.Marshal(q)
	req := &soap.SyncSendMessage{}
	req.Request.RequestData.Data = string(data)
	out, err := r.HandleSync(context.Background(), req)
	if err != nil {
		t.Fatalf("%+v: %v", q, err)
	}
	return out
}

func TestRegisterAnswersByPowerAttorneyAndDay(t *testing.T) {
	r, err := enis.LoadOrBuiltIn("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name                           string
		number, principal, attorney, d string
		want                           enis.Status
		covers, notCovers              string
	}{
		{"a power for every service", everyService, "900101300811", "791028302728", "2026-12-03", enis.StatusValid, "tsa-membership-certificate", ""},
		{"on its last day", everyService, "900101300811", "791028302728", "2029-09-13", enis.StatusValid, "", ""},
		{"the day after its term", everyService, "900101300811", "791028302728", "2029-09-14", enis.StatusExpired, "", ""},
		{"before it was issued", everyService, "900101300811", "791028302728", "2026-09-13", enis.StatusNotFound, "", ""},
		{"presented by another person", everyService, "900101300811", "800515400122", "2026-12-03", enis.StatusWrongAttorney, "", ""},
		{"named with another principal", everyService, "791028302728", "800515400122", "2026-12-03", enis.StatusNotFound, "", ""},
		{"limited to named services", jobsOnly, "791028302728", "800515400122", "2026-12-03", enis.StatusValid, "job-seeker-registration", "tsa-membership-certificate"},
		{"expired", expired, "900101300811", "050815600217", "2026-12-03", enis.StatusExpired, "", ""},
		{"the day before its revocation", revoked, "900101300811", "800515400122", "2026-08-02", enis.StatusValid, "", ""},
		{"revoked", revoked, "900101300811", "800515400122", "2026-08-03", enis.StatusRevoked, "", ""},
		{"no such number", "ENIS-2026-KRG-9999999", "900101300811", "791028302728", "2026-12-03", enis.StatusNotFound, "", ""},
	} {
		q := enis.Request{Number: tt.number, Principal: tt.principal, Attorney: tt.attorney, Date: tt.d}
		ans, err := enis.ReadResponse(ask(t, r, q), q)
		if err != nil || ans.Status != tt.want {
			t.Errorf("%s: %+v %v, want %s", tt.name, ans, err, tt.want)
			continue
		}
		if tt.covers != "" && !ans.Covers(tt.covers) {
			t.Errorf("%s: does not cover %s", tt.name, tt.covers)
		}
		if tt.notCovers != "" && ans.Covers(tt.notCovers) {
			t.Errorf("%s: covers %s", tt.name, tt.notCovers)
		}
		if ans.Status != enis.StatusValid && (ans.Notary != "" || ans.Covers("job-seeker-registration")) {
			t.Errorf("%s: a power that does not hold tells its notary or covers a service: %+v", tt.name, ans)
		}
	}
}

func TestRegisterRefusesWhatItCannotRead(t *testing.T) {
	r, err := enis.LoadOrBuiltIn("")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"another register's request": "<PersonRequest/>",
		"no date": `<PowerOfAttorneyRequest xmlns="urn:egov-gateway:enis:v1"><Number>` + everyService +
			`</Number><Principal>900101300811</Principal><Attorney>791028302728</Attorney><Date>today</Date></PowerOfAttorneyRequest>`,
	} {
		req := &soap.SyncSendMessage{}
		req.Request.RequestData.Data = data
		if _, err := r.HandleSync(context.Background(), req); err == nil {
			t.Errorf("%s: no fault", name)
		}
	}
	for name, q := range map[string]enis.Request{
		"a principal's IIN with a wrong check digit": {Number: everyService, Principal: "900101300812", Attorney: "791028302728", Date: "2026-12-03"},
		"a number out of its format":                 {Number: "enis 1873; drop", Principal: "900101300811", Attorney: "791028302728", Date: "2026-12-03"},
	} {
		out := ask(t, r, q)
		if !strings.Contains(out, enis.CodeBadRequest) {
			t.Errorf("%s: %s", name, out)
		}
		if _, err := enis.ReadResponse(out, q); err == nil {
			t.Errorf("%s: read as an answer", name)
		}
	}
}

// The asker reads only an answer about what it asked, with a term that
// covers the day.
func TestReadResponseIsStrict(t *testing.T) {
	q := enis.Request{Number: everyService, Principal: "900101300811", Attorney: "791028302728", Date: "2026-12-03"}
	good := `<PowerOfAttorneyResponse xmlns="urn:egov-gateway:enis:v1"><messageResult><code>00000</code></messageResult>` +
		`<Number>` + everyService + `</Number><Principal>900101300811</Principal><Attorney>791028302728</Attorney><Date>2026-12-03</Date>` +
		`<Notary>N</Notary><Issued>2026-09-14</Issued><Until>2029-09-13</Until></PowerOfAttorneyResponse>`
	if ans, err := enis.ReadResponse(good, q); err != nil || !ans.Covers("tsa-membership-certificate") {
		t.Fatalf("%+v %v", ans, err)
	}
	other := func(f func(*enis.Request)) enis.Request { c := q; f(&c); return c }
	for name, tt := range map[string]struct {
		data string
		q    enis.Request
	}{
		"another power":          {good, other(func(r *enis.Request) { r.Number = jobsOnly })},
		"another principal":      {good, other(func(r *enis.Request) { r.Principal = "791028302728" })},
		"another attorney":       {good, other(func(r *enis.Request) { r.Attorney = "800515400122" })},
		"another day":            {good, other(func(r *enis.Request) { r.Date = "2026-12-04" })},
		"a term that has ended":  {strings.Replace(good, "2029-09-13", "2026-12-02", 1), q},
		"no notary":              {strings.Replace(good, "<Notary>N</Notary>", "", 1), q},
		"an unknown result code": {strings.Replace(good, "00000", "00500", 1), q},
		"a service not a code":   {strings.Replace(good, "</Until>", "</Until><Services><Service>S 1</Service></Services>", 1), q},
		"not the document":       {"<PersonResponse/>", q},
	} {
		if _, err := enis.ReadResponse(tt.data, tt.q); err == nil {
			t.Errorf("%s: read as an answer", name)
		}
	}
}

func TestParseRefusesIncompletePowers(t *testing.T) {
	const ok = `"number": "ENIS-1", "principal": "900101300811", "attorney": "791028302728", "notary": "N", "issued": "2026-01-01", "until": "2026-12-31"`
	for name, data := range map[string]string{
		"no notary":          `{"powers": [{"number": "ENIS-1", "principal": "900101300811", "attorney": "791028302728", "issued": "2026-01-01", "until": "2026-12-31"}]}`,
		"until before issue": `{"powers": [{"number": "ENIS-1", "principal": "900101300811", "attorney": "791028302728", "notary": "N", "issued": "2026-12-31", "until": "2026-01-01"}]}`,
		"a bad IIN":          `{"powers": [{"number": "ENIS-1", "principal": "900101300812", "attorney": "791028302728", "notary": "N", "issued": "2026-01-01", "until": "2026-12-31"}]}`,
		"to oneself":         `{"powers": [{"number": "ENIS-1", "principal": "900101300811", "attorney": "900101300811", "notary": "N", "issued": "2026-01-01", "until": "2026-12-31"}]}`,
		"a misspelt revoked": `{"powers": [{` + ok + `, "revokd": "2026-06-01"}]}`,
		"revoked before":     `{"powers": [{` + ok + `, "revoked": "2025-06-01"}]}`,
		"one number twice":   `{"powers": [{` + ok + `}, {` + ok + `}]}`,
		"a null power":       `{"powers": [null]}`,
	} {
		if _, err := enis.Parse([]byte(data), name); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// The register answers on the bus's synchronous channel to the systems
// the routing table lets ask it, and nobody else.
func TestRegisterOverTheSyncChannel(t *testing.T) {
	r := redistest.New(t)
	hash, err := shep.HashPassword("counter-secret")
	if err != nil {
		t.Fatal(err)
	}
	routing := &shep.Routing{
		Services: map[string]*shep.Service{enis.ServiceID: {Recipient: "enis", Channel: "sync", PersonalData: true}},
		Systems: map[string]*shep.System{
			"gk-counter":  {PasswordHash: hash, Send: []string{enis.ServiceID}, Poll: []string{"gk-counter"}},
			"egov-portal": {PasswordHash: hash, Poll: []string{"egov-portal"}},
		},
	}
	bus, err := shep.New(r.Client, routing, shep.Config{KeyPrefix: r.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	reg, err := enis.LoadOrBuiltIn("")
	if err != nil {
		t.Fatal(err)
	}
	bus.HandleSync(enis.ServiceID, reg)
	srv := httptest.NewServer(bus.Handler())
	defer srv.Close()
	client := &shep.HTTPClient{BaseURL: srv.URL}
	ask := func(sender string, q enis.Request) (string, error) {
		data, _ := xml.Marshal(q)
		req := &soap.SyncSendMessage{}
		req.Request.RequestInfo = soap.SyncMessageInfo{MessageID: uuid.NewString(), ServiceID: enis.ServiceID, MessageDate: time.Now(),
			Sender: soap.SenderInfo{SenderID: sender, Password: "counter-secret"}}
		req.Request.RequestData.Data = string(data)
		resp, err := client.SendSync(context.Background(), req)
		if err != nil {
			return "", err
		}
		return resp.Response.ResponseData.Data, nil
	}
	q := enis.Request{Number: revoked, Principal: "900101300811", Attorney: "800515400122", Date: "2026-12-03"}
	data, err := ask("gk-counter", q)
	if err != nil {
		t.Fatal(err)
	}
	if ans, err := enis.ReadResponse(data, q); err != nil || ans.Status != enis.StatusRevoked {
		t.Fatalf("over the bus: %+v %v, want revoked", ans, err)
	}
	var f *soap.Fault
	if _, err := ask("egov-portal", q); !errors.As(err, &f) {
		t.Fatalf("a system the routing table does not let ask: %v", err)
	}
}

func FuzzHandleSync(f *testing.F) {
	f.Add(`<PowerOfAttorneyRequest xmlns="urn:egov-gateway:enis:v1"><Number>` + everyService +
		`</Number><Principal>900101300811</Principal><Attorney>791028302728</Attorney><Date>2026-12-03</Date></PowerOfAttorneyRequest>`)
	f.Add(`<PowerOfAttorneyRequest xmlns="urn:egov-gateway:enis:v1"><Number>`)
	reg, err := enis.LoadOrBuiltIn("")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data string) {
		req := &soap.SyncSendMessage{}
		req.Request.RequestData.Data = data
		out, err := reg.HandleSync(context.Background(), req)
		if err != nil {
			return
		}
		var r enis.Response
		if xml.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("answer is not a PowerOfAttorneyResponse: %s", out)
		}
		// What the register says holds is what its asker reads as holding.
		q := enis.Request{Number: r.Number, Principal: r.Principal, Attorney: r.Attorney, Date: r.Date}
		if ans, err := enis.ReadResponse(out, q); r.Result.Code == enis.CodeValid && (err != nil || ans.Status != enis.StatusValid) {
			t.Fatalf("a power the register says holds is read as %+v %v", ans, err)
		}
	})
}
