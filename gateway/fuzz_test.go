package gateway_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"egov"
	"egov/gateway"
	"egov/signing"
)

// FuzzParseServiceRequest reads arbitrary XML as a request element: it must
// never panic, every refusal carries a code of the table, and an accepted
// request has a valid IIN and a request id.
func FuzzParseServiceRequest(f *testing.F) {
	for _, name := range []string{"valid.xml", "auth-key.xml"} {
		if data, err := os.ReadFile(filepath.Join("../fixtures/signing", name)); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`<ServiceRequest xmlns="` + gateway.RequestNamespace + `" version="1"><RequestId>x</RequestId></ServiceRequest>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(data); err != nil || doc.Root() == nil {
			return
		}
		req, err := gateway.ParseServiceRequest(doc.Root())
		if err != nil {
			if code := egov.ErrorCode(err); !code.Known() || code == egov.CodeInternal {
				t.Fatalf("refusal without a table code: %v", err)
			}
			return
		}
		if _, err := signing.ParseIIN(req.Applicant.IIN); err != nil || strings.TrimSpace(req.RequestID) == "" {
			t.Fatalf("accepted a request without a valid IIN or id: %+v", req)
		}
	})
}
