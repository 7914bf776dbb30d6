package signing_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"egov"
	"egov/signing"
)

func TestVerifyRespectsClockAfterCaching(t *testing.T) {
	v := fixtureVerifier(t)
	doc, err := os.ReadFile(filepath.Join(fixturesSigning, "valid.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	// The chain verdict is cached now; moving the clock past the
	// certificate's end must still refuse.
	v.Now = fixedClock(validUntil.Add(time.Second))
	if _, err := v.Verify(context.Background(), doc); egov.ErrorCode(err) != egov.CodeCertificateExpired {
		t.Fatalf("got %v, want certificate-expired", err)
	}
	v.Now = fixedClock(validFrom.Add(-time.Second))
	if _, err := v.Verify(context.Background(), doc); egov.ErrorCode(err) != egov.CodeCertificateNotYetValid {
		t.Fatalf("got %v, want certificate-not-yet-valid", err)
	}
}

func TestVerifyPolicies(t *testing.T) {
	auth, err := os.ReadFile(filepath.Join(fixturesSigning, "auth-key.xml"))
	if err != nil {
		t.Fatal(err)
	}
	valid, err := os.ReadFile(filepath.Join(fixturesSigning, "valid.xml"))
	if err != nil {
		t.Fatal(err)
	}

	v := fixtureVerifier(t)
	v.AllowAuthKeys = true
	res, err := v.Verify(context.Background(), auth)
	if err != nil {
		t.Fatalf("auth key with AllowAuthKeys: %v", err)
	}
	if res.Signer.Purpose != signing.PurposeAuth {
		t.Fatalf("purpose %s", res.Signer.Purpose)
	}

	v = fixtureVerifier(t)
	v.Limits.MaxBytes = 1024
	if _, err := v.Verify(context.Background(), valid); egov.ErrorCode(err) != egov.CodeXMLTooLarge {
		t.Fatalf("MaxBytes: got %v", err)
	}
	v.Limits = signing.Limits{MaxDepth: 2}
	if _, err := v.Verify(context.Background(), valid); egov.ErrorCode(err) != egov.CodeXMLTooDeep {
		t.Fatalf("MaxDepth: got %v", err)
	}

	v = fixtureVerifier(t)
	v.Revocation = nil
	if _, err := v.Verify(context.Background(), valid); egov.ErrorCode(err) != egov.CodeRevocationUnknown {
		t.Fatalf("no revocation policy: got %v, want revocation-unknown", err)
	}
	v.Revocation = &signing.Revocation{}
	if _, err := v.Verify(context.Background(), valid); egov.ErrorCode(err) != egov.CodeRevocationUnknown {
		t.Fatalf("no revocation source: got %v, want revocation-unknown", err)
	}
	v.Revocation = &signing.Revocation{AllowUnknown: true}
	res, err = v.Verify(context.Background(), valid)
	if err != nil || res.Evidence.Revocation.Source != signing.SourceNone {
		t.Fatalf("AllowUnknown: %v", err)
	}

	v = fixtureVerifier(t)
	v.Trust = nil
	if _, err := v.Verify(context.Background(), valid); egov.ErrorCode(err) != egov.CodeCertificateUntrusted {
		t.Fatalf("no trust store: got %v", err)
	}
}

func TestResultIdentityChecks(t *testing.T) {
	v := fixtureVerifier(t)
	doc, err := os.ReadFile(filepath.Join(fixturesSigning, "valid-provider.xml"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.RequireBIN("940140000385"); err != nil {
		t.Fatal(err)
	}
	if err := res.RequireBIN("990140004654"); egov.ErrorCode(err) != egov.CodeBINMismatch {
		t.Fatalf("got %v", err)
	}
	if err := res.RequireIIN("800515400122"); err != nil {
		t.Fatal(err)
	}
	if !res.Signer.HasKeyUser(signing.KeyUserOrganization) || !res.Signer.HasKeyUser(signing.KeyUserCEO) {
		t.Fatalf("key users %v", res.Signer.KeyUsers)
	}
	if strings.Contains(err2s(res.RequireIIN("791028302728")), "791028302728") {
		t.Fatal("refusal detail leaks a full IIN")
	}
}

func err2s(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestSignerRoundTrip(t *testing.T) {
	v := fixtureVerifier(t)
	doc := requestXML("791028302728", "ЖАҚСЫЛЫҚОВ", "АЙДОС")
	p12 := fixtureSigner(t, "citizen")
	pemSigner, err := signing.LoadSigner(filepath.Join(fixturesPKI, "keys", "citizen.crt"), "")
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*signing.Signer{"pkcs12": p12, "pem": pemSigner} {
		signed := mustSign(t, s, doc)
		res, err := v.Verify(context.Background(), signed)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Signer.IIN != "791028302728" || res.Element.Tag != "ServiceRequest" {
			t.Fatalf("%s: %+v", name, res.Signer)
		}
		if _, err := s.Sign(signed); !errors.Is(err, signing.ErrAlreadySigned) {
			t.Fatalf("%s: signing twice: %v", name, err)
		}
	}
	if _, err := signing.LoadSigner(filepath.Join(fixturesPKI, "keys", "citizen.p12"), "wrong"); err == nil {
		t.Fatal("wrong PKCS#12 password accepted")
	}
	cert, _ := os.ReadFile(filepath.Join(fixturesPKI, "keys", "citizen.crt"))
	key, _ := os.ReadFile(filepath.Join(fixturesPKI, "keys", "citizen2.key"))
	if _, err := signing.ParsePEM(cert, key); err == nil {
		t.Fatal("mismatched key and certificate accepted")
	}
}

func TestIdentityOfFixtures(t *testing.T) {
	tests := []struct {
		key     string
		iin     string
		bin     string
		purpose signing.KeyPurpose
		users   []signing.KeyUser
	}{
		{"citizen", "791028302728", "", signing.PurposeSign, []signing.KeyUser{signing.KeyUserIndividual}},
		{"citizen-auth", "791028302728", "", signing.PurposeAuth, []signing.KeyUser{signing.KeyUserIndividual}},
		{"provider", "800515400122", "940140000385", signing.PurposeSign, []signing.KeyUser{signing.KeyUserOrganization, signing.KeyUserCEO}},
	}
	for _, tt := range tests {
		s := fixtureSigner(t, tt.key)
		id := signing.IdentityOf(s.Certificate)
		if id.IIN != tt.iin || id.BIN != tt.bin || id.Purpose != tt.purpose || len(id.KeyUsers) != len(tt.users) {
			t.Fatalf("%s: %+v", tt.key, id)
		}
		for i, u := range tt.users {
			if id.KeyUsers[i] != u {
				t.Fatalf("%s: key users %v", tt.key, id.KeyUsers)
			}
		}
		if id.Surname == "" || id.CommonName == "" || signing.IsGOST(s.Certificate) {
			t.Fatalf("%s: %+v", tt.key, id)
		}
	}
	citizen := signing.IdentityOf(fixtureSigner(t, "citizen").Certificate)
	if citizen.GivenName != "СЕРІКҰЛЫ" || citizen.Surname != "ЖАҚСЫЛЫҚОВ" || citizen.CommonName != "ЖАҚСЫЛЫҚОВ АЙДОС" {
		t.Fatalf("names: %+v", citizen)
	}
	gostPEM, err := os.ReadFile(filepath.Join(fixturesPKI, "keys", "gost.crt"))
	if err != nil {
		t.Fatal(err)
	}
	gost, err := signing.ParseCertificates(gostPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !signing.IsGOST(gost[0]) || signing.IdentityOf(gost[0]).IIN != "791028302728" {
		t.Fatal("GOST certificate not recognised")
	}
}

func TestLoadTrustDir(t *testing.T) {
	if _, err := signing.LoadTrustDir(t.TempDir()); err == nil {
		t.Fatal("empty trust dir accepted")
	}
	dir := t.TempDir()
	ca, _ := os.ReadFile(filepath.Join(fixturesPKI, "ca.crt"))
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := signing.LoadTrustDir(dir); err == nil {
		t.Fatal("trust dir without a root accepted")
	}
	leaf, _ := os.ReadFile(filepath.Join(fixturesPKI, "keys", "citizen.crt"))
	root, _ := os.ReadFile(filepath.Join(fixturesPKI, "root.crt"))
	_ = os.WriteFile(filepath.Join(dir, "root.cer"), root, 0o644)
	_ = os.WriteFile(filepath.Join(dir, "leaf.crt"), leaf, 0o644)
	if _, err := signing.LoadTrustDir(dir); err == nil {
		t.Fatal("end-entity certificate accepted as an authority")
	}
}

func TestSourcesOpen(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := signing.Sources{TrustDir: filepath.Join(fixturesPKI, "trust"), CRL: filepath.Join(fixturesPKI, "crl.pem")}.Open(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := os.ReadFile(filepath.Join(fixturesSigning, "valid.xml"))
	if res, err := v.Verify(ctx, doc); err != nil || res.Evidence.Revocation.Source != signing.SourceCRL {
		t.Fatalf("verifier from sources: %v", err)
	}
	if _, err := (signing.Sources{TrustDir: t.TempDir()}).Open(ctx, nil); err == nil {
		t.Fatal("an empty trust directory opened")
	}
	v, err = signing.Sources{TrustDir: filepath.Join(fixturesPKI, "trust")}.Open(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, doc); egov.ErrorCode(err) != egov.CodeRevocationUnknown {
		t.Fatalf("no revocation source must fail closed: %v", err)
	}
}

// A Verifier remembers documents it accepted, so that the bus and the
// labour-market system do not repeat the portal's work on the same bytes.
// What may change between two verifications must still be checked.
func TestVerifyRemembersOnlyWhatStillHolds(t *testing.T) {
	a := copyAuthority(t)
	citizen := issueCitizen(t, a)
	signer := &signing.Signer{Key: citizen.Key, Certificate: citizen.Certificate}
	doc := mustSign(t, signer, requestXML("791028302728", "ЖАҚСЫЛЫҚОВ", "АЙДОС"))

	crl := crlSet(t, a, corpusTime.Add(-time.Hour), corpusTime.Add(time.Hour))
	v := &signing.Verifier{Trust: a.TrustStore(), Revocation: &signing.Revocation{CRL: crl}, Now: fixedClock(corpusTime)}
	first, err := v.Verify(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	// The caller owns its Element: changing it must not change what the
	// next caller reads.
	first.Element.SelectElement("Applicant").CreateAttr("tampered", "yes")
	first.Element.SelectAttr("version").Element().CreateAttr("tampered", "yes")

	second, err := v.Verify(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	if second.Element.SelectElement("Applicant").SelectAttr("tampered") != nil || second.Element.SelectAttr("tampered") != nil {
		t.Fatal("a remembered verdict handed out an element another caller changed")
	}
	if second.Signer.IIN != "791028302728" || second.Evidence.DocumentSHA256 != first.Evidence.DocumentSHA256 {
		t.Fatalf("remembered result differs: %+v", second.Evidence)
	}

	// One byte more and it is another document, verified from scratch.
	tampered := []byte(strings.Replace(string(doc), "АЙДОС", "АЙДОT", 1))
	if _, err := v.Verify(context.Background(), tampered); egov.ErrorCode(err) != egov.CodeSignatureInvalid {
		t.Fatalf("tampered copy of a remembered document: got %v", err)
	}

	// Revoked after the first verification: the same bytes are refused.
	if err := a.Revoke(citizen.Certificate, corpusTime.Add(-time.Minute), 1); err != nil {
		t.Fatal(err)
	}
	newer, err := a.CRL(corpusTime, corpusTime.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.Add(newer); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), doc); egov.ErrorCode(err) != egov.CodeCertificateRevoked {
		t.Fatalf("revoked since it was remembered: got %v", err)
	}
}
