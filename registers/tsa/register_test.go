package tsa_test

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"

	"egov/registers/tsa"
	"egov/shep/soap"
)

func ask(t *testing.T, r *tsa.Register, iin, date string) (string, error) {
	t.Helper()
	q, _ := xml.Marshal(tsa.Request{IIN: iin, Date: date})
	req := &soap.SyncSendMessage{}
	req.Request.RequestData.Data = string(q)
	return r.HandleSync(context.Background(), req)
}

func TestRegisterAnswersByFamilyAndDay(t *testing.T) {
	r, err := tsa.LoadOrBuiltIn("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, iin, date string
		belongs         bool
		family          string
	}{
		{"the applicant of a current assignment", "900101300811", "2026-12-02", true, "KRG-ASP-2026-000117"},
		{"a child of that family", "181122600348", "2027-03-01", true, "KRG-ASP-2026-000117"},
		{"the day before the assignment", "900101300811", "2026-09-30", false, ""},
		{"an assignment that has ended", "850622300414", "2026-12-02", false, ""},
		{"on its last day", "850622300414", "2025-09-30", true, "KRG-ASP-2025-000342"},
		{"nobody's family", "791028302728", "2026-12-02", false, ""},
	} {
		data, err := ask(t, r, tt.iin, tt.date)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		ans, err := tsa.ReadResponse(data, tt.iin, tt.date)
		if err != nil || ans.Belongs != tt.belongs || ans.Case != tt.family {
			t.Errorf("%s: %+v %v, want belongs %v (%s)", tt.name, ans, err, tt.belongs, tt.family)
		}
	}
}

func TestRegisterRefusesWhatItCannotRead(t *testing.T) {
	r, err := tsa.LoadOrBuiltIn("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ask(t, r, "900101300811", "yesterday"); err == nil {
		t.Error("a request without a date: no fault")
	}
	req := &soap.SyncSendMessage{}
	req.Request.RequestData.Data = "<PersonRequest/>"
	if _, err := r.HandleSync(context.Background(), req); err == nil {
		t.Error("another register's request: no fault")
	}
	data, err := ask(t, r, "900101300812", "2026-12-02")
	if err != nil || !strings.Contains(data, tsa.CodeBadIIN) {
		t.Errorf("an IIN with a wrong check digit: %s %v", data, err)
	}
}

// The asker reads only an answer about what it asked.
func TestReadResponseIsStrict(t *testing.T) {
	good := `<RecipientResponse xmlns="urn:egov-gateway:tsa:v1"><messageResult><code>00000</code></messageResult><IIN>900101300811</IIN><Date>2026-12-02</Date><Case>K</Case><Until>2029-12-31</Until></RecipientResponse>`
	if ans, err := tsa.ReadResponse(good, "900101300811", "2026-12-02"); err != nil || !ans.Belongs {
		t.Fatalf("%+v %v", ans, err)
	}
	for name, tt := range map[string]struct{ data, iin, date string }{
		"another person":         {good, "791028302728", "2026-12-02"},
		"another day":            {good, "900101300811", "2026-12-03"},
		"an assignment run out":  {strings.Replace(good, "2029-12-31", "2026-12-01", 1), "900101300811", "2026-12-02"},
		"an unknown result code": {strings.Replace(good, "00000", "00500", 1), "900101300811", "2026-12-02"},
		"not the document":       {"<PersonResponse/>", "900101300811", "2026-12-02"},
	} {
		if _, err := tsa.ReadResponse(tt.data, tt.iin, tt.date); err == nil {
			t.Errorf("%s: read as an answer", name)
		}
	}
}

func TestParseRefusesIncompleteFamilies(t *testing.T) {
	for name, data := range map[string]string{
		"no case":           `{"families": [{"members": ["900101300811"], "from": "2026-01-01", "until": "2026-12-31"}]}`,
		"until before from": `{"families": [{"case": "C", "members": ["900101300811"], "from": "2026-12-31", "until": "2026-01-01"}]}`,
		"a bad IIN":         `{"families": [{"case": "C", "members": ["900101300812"], "from": "2026-01-01", "until": "2026-12-31"}]}`,
		"no members":        `{"families": [{"case": "C", "members": [], "from": "2026-01-01", "until": "2026-12-31"}]}`,
	} {
		if _, err := tsa.Parse([]byte(data), name); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}
