package document_test

import (
	"strings"
	"testing"
	"time"

	"egov"
	"egov/document"
)

func TestReadHandOut(t *testing.T) {
	h := document.HandOut{RequestID: "0b6a4c9e-1f2d-4e8a-9b3c-5d7e9f1a2b3c", Applicant: "791028302728", To: document.HandedToRepresentative,
		Office: "krg-con-01", At: time.Date(2026, 12, 3, 5, 0, 0, 0, time.UTC)}
	good := string(h.Document())
	if got, err := document.ReadHandOut([]byte(good + "\n")); err != nil || got.RequestID != h.RequestID || got.Applicant != h.Applicant ||
		got.To != h.To || got.Office != h.Office || !got.At.Equal(h.At) {
		t.Fatalf("read back: %+v %v", got, err)
	}
	tests := []struct{ name, data string }{
		{"a DTD", `<!DOCTYPE x>` + good},
		{"a second element", good + good},
		{"text after it", good + "x"},
		{"handed to a stranger", replace(good, "representative", "neighbour")},
		{"an IIN that is none", replace(good, "791028302728", "791028302729")},
		{"no time", replace(good, "2026-12-03T05:00:00Z", "")},
		{"a request id that is no UUID", replace(good, "0b6a4c9e-1f2d-4e8a-9b3c-5d7e9f1a2b3c", "../../etc")},
		{"too large", good[:len(good)-len("</HandOut>")] + "<Note>" + string(make([]byte, 2000)) + "</Note></HandOut>"},
		{"another namespace", replace(good, "urn:egov-gateway:counter:v1", "urn:other")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := document.ReadHandOut([]byte(tt.data)); egov.ErrorCode(err) != egov.CodeAnswerUnmatched {
				t.Fatalf("got %v, want answer-unmatched", err)
			}
		})
	}
}

// replace changes the one old of s, which must be there.
func replace(s, old, new string) string {
	if !strings.Contains(s, old) {
		panic("not found: " + old)
	}
	return strings.Replace(s, old, new, 1)
}
