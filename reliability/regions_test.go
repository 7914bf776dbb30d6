package reliability

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"egov/document"
	"egov/internal/loadgen"
	"egov/signing"
)

// Karaganda's requests cross the processes to АРМ РШЭП (cmd/regionaldesk)
// and come back signed by its organisation: S7, answered from the
// assistance register the bus process hosts, and S1, which the
// labour-market system beside it never sees.
func TestKaragandaAcrossProcesses(t *testing.T) {
	s := startStack(t, Options{Desk: true})
	ctx := context.Background()
	people, err := loadgen.PrepareCitizens(ctx, client, s.PortalURL, s.Authority, 2)
	if err != nil {
		t.Fatal(err)
	}
	scan := []byte("%PDF-1.7 identity card")
	sum := sha256.Sum256(scan)
	expires := time.Now().AddDate(5, 0, 0)
	var ids []string
	for i, service := range []string{"tsa-membership-certificate", "job-seeker-registration"} {
		c := people[i]
		req := &document.Request{RequestID: uuid.NewString(), ServiceCode: service, Region: "karaganda", IssuedAt: time.Now(),
			Applicant: document.Applicant{IIN: c.IIN, Surname: "НАГРУЗКА", GivenName: "ТЕСТ"}}
		var files []loadgen.File
		if service == "job-seeker-registration" {
			req.Form = map[string]string{"education": "higher"}
			req.Attachments = []document.AttachmentHeader{{Kind: "identity-document", FileName: "id.pdf", MIMEType: "application/pdf",
				Size: int64(len(scan)), SHA256: hex.EncodeToString(sum[:]), Expires: &expires}}
			files = []loadgen.File{{Name: "id.pdf", Data: scan}}
		}
		signed, err := c.Key.Sign(req.Document())
		if err != nil {
			t.Fatal(err)
		}
		ct, body := loadgen.Multipart(signed, files...)
		if code, answer := loadgen.Submit(ctx, client, s.PortalURL, people, loadgen.Request{Citizen: i, ID: req.RequestID, Body: body, ContentType: ct}); code != http.StatusAccepted {
			t.Fatalf("%s: %d %s", service, code, answer)
		}
		ids = append(ids, req.RequestID)
	}
	results, err := loadgen.CollectResults(ctx, client, s.PortalURL, people, ids, 2*time.Minute, nil)
	if err != nil || len(results) != 2 {
		t.Fatalf("results %+v %v", results, err)
	}
	pkiDir := filepath.Join(s.opt.Dir, "pki")
	verifier, err := signing.Sources{TrustDir: filepath.Join(pkiDir, "trust"), CRL: filepath.Join(pkiDir, "crl.pem")}.Open(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range people {
		signed, err := verifier.Verify(ctx, []byte(resultDocument(t, s.PortalURL, c.Token, ids[i])))
		if err != nil {
			t.Fatal(err)
		}
		res, err := document.ReadResult(signed.Element)
		if err != nil {
			t.Fatal(err)
		}
		if signed.Signer.BIN != "070540000713" || res.ProviderBIN != signed.Signer.BIN || res.Outcome == document.OutcomeRefused {
			t.Errorf("%s: %s signed for BIN %s (ground %v), want АРМ РШЭП's answer on the merits", res.ServiceCode, res.Outcome, signed.Signer.BIN, res.Ground)
		}
	}
}

// resultDocument downloads the signed result of request id from the
// citizen's cabinet.
func resultDocument(t *testing.T, portal, token, id string) string {
	t.Helper()
	get := func(path string) []byte {
		req, _ := http.NewRequest(http.MethodGet, portal+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, data)
		}
		return data
	}
	var page struct {
		Messages []struct{ ID, Kind, RequestID string }
	}
	if err := json.Unmarshal(get("/api/v1/cabinet/messages?limit=100"), &page); err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Messages {
		if m.RequestID == id && (m.Kind == "result" || m.Kind == "refusal") {
			return string(get("/api/v1/cabinet/messages/" + m.ID + "/document"))
		}
	}
	t.Fatalf("no result of %s in the cabinet", id)
	return ""
}
