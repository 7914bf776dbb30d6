package gbdfl_test

import (
	"context"
	"encoding/xml"
	"testing"

	"egov/shep/gbdfl"
	"egov/shep/soap"
)

// FuzzHandleSync answers arbitrary request data: never a panic, and always
// either a PersonResponse or a SOAP fault.
func FuzzHandleSync(f *testing.F) {
	reg, err := gbdfl.Load("../../fixtures/gbdfl/persons.json")
	if err != nil {
		f.Fatal(err)
	}
	q, _ := xml.Marshal(gbdfl.Request{IIN: "791028302728"})
	f.Add(string(q))
	f.Add(`<PersonRequest><IIN>000000000000</IIN></PersonRequest>`)
	f.Fuzz(func(t *testing.T, data string) {
		req := &soap.SyncSendMessage{}
		req.Request.RequestData.Data = data
		answer, err := reg.HandleSync(context.Background(), req)
		if err != nil {
			if _, ok := err.(*soap.Fault); !ok {
				t.Fatalf("error that is not a fault: %v", err)
			}
			return
		}
		var resp gbdfl.Response
		if err := xml.Unmarshal([]byte(answer), &resp); err != nil || resp.Result.Code == "" {
			t.Fatalf("answer is not a PersonResponse with a result code: %q %v", answer, err)
		}
	})
}
