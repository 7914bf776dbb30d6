package signing_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"egov"
	"egov/signing"
)

// fixtureVerifier trusts the committed test PKI, checks revocation against
// its committed CRL and runs at corpusTime.
func fixtureVerifier(t testing.TB) *signing.Verifier {
	t.Helper()
	trust, err := signing.LoadTrustDir(filepath.Join(fixturesPKI, "trust"))
	if err != nil {
		t.Fatal(err)
	}
	crls := &signing.CRLSet{Sources: []string{filepath.Join(fixturesPKI, "crl.pem")}, Trust: trust}
	if err := crls.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &signing.Verifier{
		Trust:      trust,
		Revocation: &signing.Revocation{CRL: crls},
		Now:        func() time.Time { return corpusTime },
	}
}

type expectedCase struct {
	file, code, iin, note string
}

func readExpected(t testing.TB) []expectedCase {
	t.Helper()
	f, err := os.Open(filepath.Join(fixturesSigning, "expected.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []expectedCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 4 {
			t.Fatalf("expected.tsv: bad line %q", line)
		}
		out = append(out, expectedCase{cols[0], cols[1], cols[2], cols[3]})
	}
	if len(out) == 0 {
		t.Fatal("expected.tsv is empty")
	}
	return out
}

// TestCorpus runs every document of fixtures/signing through the verifier
// and compares the refusal code with the table.
func TestCorpus(t *testing.T) {
	v := fixtureVerifier(t)
	for _, c := range readExpected(t) {
		t.Run(c.file, func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join(fixturesSigning, c.file))
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(context.Background(), doc)
			if err == nil && c.iin != "-" {
				err = res.RequireIIN(c.iin)
			}
			got := string(egov.ErrorCode(err))
			if got == "" {
				got = "-"
			}
			if got != c.code {
				t.Fatalf("%s (%s): got %s (%v), want %s", c.file, c.note, got, err, c.code)
			}
			if err != nil {
				if !egov.ErrorCode(err).Known() {
					t.Fatalf("code %q is not in the code table", got)
				}
				return
			}
			// Business data comes from the verified element only.
			if res.Element == nil || res.Element.SelectElement("Signature") != nil {
				t.Fatalf("verified element missing or still carries the signature")
			}
			if iin := res.Element.FindElement("./Applicant/IIN"); iin != nil && iin.Text() != res.Signer.IIN {
				t.Fatalf("request IIN %q differs from certificate IIN %q", iin.Text(), res.Signer.IIN)
			}
			if res.Evidence.SignedDigest == "" || len(res.Evidence.DocumentSHA256) != 64 || res.Evidence.Revocation.Source != signing.SourceCRL {
				t.Fatalf("incomplete evidence: %+v", res.Evidence)
			}
		})
	}
}
