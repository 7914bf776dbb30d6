package document_test

import (
	"strings"
	"testing"

	"egov"
	"egov/document"
)

func aNotice() *document.Notice {
	return &document.Notice{RequestID: "6f1c2a8e-4b7d-4f3e-9a51-0c2d7e8b9f10",
		Status: document.StatusAcceptedForProcessing, Applicant: "791028302728"}
}

// TestNotice reads written notices, changed one way at a time.
func TestNotice(t *testing.T) {
	base := string(aNotice().Document())
	tests := []struct {
		name     string
		old, new string
		ok       bool
	}{
		{"as written", "", "", true},
		{"no version attribute", ` version="1"`, "", true},
		{"compact, as the first providers wrote it", "\n  ", "", true},
		{"without the applicant (before version 1 named it)", "  <Applicant>791028302728</Applicant>\n", "", false},
		{"without the request id", "  <RequestId>6f1c2a8e-4b7d-4f3e-9a51-0c2d7e8b9f10</RequestId>\n", "", false},
		{"unknown status", "accepted-for-processing", "done", false},
		{"applicant's IIN invalid", "791028302728", "791028302729", false},
		{"request id not a UUID", "6f1c2a8e-4b7d-4f3e-9a51-0c2d7e8b9f10", "42", false},
		{"status before the request id", "<RequestId>6f1c2a8e-4b7d-4f3e-9a51-0c2d7e8b9f10</RequestId>\n  <Status>accepted-for-processing</Status>",
			"<Status>accepted-for-processing</Status>\n  <RequestId>6f1c2a8e-4b7d-4f3e-9a51-0c2d7e8b9f10</RequestId>", false},
		{"unknown element", "</ProviderNotice>", "<Note>x</Note></ProviderNotice>", false},
		{"a signature nobody checks", "</ProviderNotice>", `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/></ProviderNotice>`, false},
		{"the request's namespace", "result:v1", "request:v1", false},
		{"a result root", "ProviderNotice", "ServiceResult", false},
		{"version 2", `version="1"`, `version="2"`, false},
	}
	for _, tt := range tests {
		doc := base
		if tt.old != "" {
			if !strings.Contains(doc, tt.old) {
				t.Fatalf("%s: the writer's output no longer holds %q", tt.name, tt.old)
			}
			doc = strings.ReplaceAll(doc, tt.old, tt.new)
		}
		got, err := document.ReadNotice(parse(t, []byte(doc)))
		switch {
		case !tt.ok:
			wantCode(t, tt.name, err, egov.CodeAnswerUnmatched)
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case *got != *aNotice():
			t.Errorf("%s: read %+v", tt.name, got)
		}
	}
}
