package contracts_test

import (
	"context"
	"encoding/xml"
	"testing"

	"egov/registers/contracts"
	"egov/shep/soap"
)

func TestRegisterAnswersByPersonAndDay(t *testing.T) {
	r, err := contracts.LoadOrBuiltIn("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, iin, date string
		employed        bool
	}{
		{"an open-ended contract", "800515400122", "2026-12-02", true},
		{"before it began", "800515400122", "2015-03-01", false},
		{"a contract that ended", "791028302728", "2026-12-02", false},
		{"on its last day", "791028302728", "2025-11-30", true},
		{"nobody's employee", "050815600217", "2026-12-02", false},
	} {
		q, _ := xml.Marshal(contracts.Request{IIN: tt.iin, Date: tt.date})
		req := &soap.SyncSendMessage{}
		req.Request.RequestData.Data = string(q)
		data, err := r.HandleSync(context.Background(), req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		employed, err := contracts.ReadResponse(data, tt.iin, tt.date)
		if err != nil || employed != tt.employed {
			t.Errorf("%s: employed %v %v, want %v", tt.name, employed, err, tt.employed)
		}
		if _, err := contracts.ReadResponse(data, tt.iin, "2000-01-01"); err == nil {
			t.Errorf("%s: an answer about another day was read", tt.name)
		}
	}
}

func TestParseRefusesIncompleteContracts(t *testing.T) {
	for name, data := range map[string]string{
		"no employer":      `{"contracts": [{"iin": "800515400122", "bin": "940140000385", "from": "2020-01-01"}]}`,
		"a bad BIN":        `{"contracts": [{"iin": "800515400122", "employer": "E", "bin": "940140000386", "from": "2020-01-01"}]}`,
		"ends too soon":    `{"contracts": [{"iin": "800515400122", "employer": "E", "bin": "940140000385", "from": "2020-01-01", "until": "2019-01-01"}]}`,
		"a misspelt until": `{"contracts": [{"iin": "800515400122", "employer": "E", "bin": "940140000385", "from": "2020-01-01", "untill": "2021-01-01"}]}`,
	} {
		if _, err := contracts.Parse([]byte(data), name); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}
