package gateway_test

import (
	"bytes"
	"mime/multipart"
	"net/textproto"
	"testing"
	"time"

	"egov"
	"egov/gateway"
)

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
