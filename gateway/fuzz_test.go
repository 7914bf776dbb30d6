package gateway_test

import (
	"bytes"
	"mime/multipart"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// FuzzReadSubmission reads arbitrary multipart bodies as a submission:
// never a panic, every refusal with a code of the table, and what it
// accepts has its signed document within the limits.
func FuzzReadSubmission(f *testing.F) {
	const boundary = "fuzz-boundary"
	body := func(parts ...[2]string) []byte {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		_ = mw.SetBoundary(boundary)
		for i, p := range parts {
			h := textproto.MIMEHeader{}
			if i == 0 {
				h.Set("Content-Disposition", `form-data; name="request"; filename="request.xml"`)
				h.Set("Content-Type", "application/xml")
			} else {
				h.Set("Content-Disposition", `form-data; name="file"; filename="`+p[0]+`"`)
				h.Set("Content-Type", "application/pdf")
			}
			w, _ := mw.CreatePart(h)
			_, _ = w.Write([]byte(p[1]))
		}
		_ = mw.Close()
		return b.Bytes()
	}
	doc, _ := requestDoc(f, "citizen", citizenIIN, time.Now(), []file{idScan}, nil)
	f.Add(body([2]string{"", string(doc)}, [2]string{idScan.name, string(idScan.data)}))
	f.Add(body([2]string{"", string(doc)}))
	f.Add(body([2]string{"", "<ServiceRequest/>"}, [2]string{"x.pdf", "%PDF"}, [2]string{"y.pdf", "%PDF"}))
	f.Add([]byte("--" + boundary + "\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n<a/>\r\n--" + boundary + "--\r\n"))
	const maxXML, maxAttachment = 4 << 10, 1 << 10
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, ct := range []string{"multipart/form-data; boundary=" + boundary, "multipart/related; boundary=" + boundary} {
			sub, err := gateway.ReadSubmission(ct, bytes.NewReader(data), maxXML, maxAttachment)
			if err != nil {
				if code := egov.ErrorCode(err); !code.Known() || code == egov.CodeInternal {
					t.Fatalf("refusal without a table code: %v", err)
				}
				continue
			}
			if sub.Document == nil || len(sub.Document) > maxXML || len(sub.Attachments) > 20 {
				t.Fatalf("accepted outside the limits: document %d bytes, %d attachments", len(sub.Document), len(sub.Attachments))
			}
			for _, a := range sub.Attachments {
				if len(a.Data) > maxAttachment {
					t.Fatalf("attachment of %d bytes accepted", len(a.Data))
				}
			}
		}
	})
}
