package labour_test

import (
	"os"
	"testing"

	"github.com/beevik/etree"

	"egov/labour"
)

// FuzzReadApplication reads arbitrary XML as a request element: it must
// never panic, and what it accepts names a request and an applicant.
func FuzzReadApplication(f *testing.F) {
	if data, err := os.ReadFile("../fixtures/signing/valid.xml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`<ServiceRequest><RequestId/><Applicant><IIN>1</IIN></Applicant></ServiceRequest>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(data); err != nil || doc.Root() == nil {
			return
		}
		app, err := labour.ReadApplication(doc.Root())
		if err != nil {
			return
		}
		if app.RequestID == "" || app.IIN == "" {
			t.Fatalf("accepted an application without a request id or IIN: %+v", app)
		}
	})
}
