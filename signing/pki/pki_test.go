package pki_test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"egov/signing"
	"egov/signing/pki"
)

// openCopy gives the test a writable copy of the committed test authority.
func openCopy(t *testing.T) *pki.Authority {
	t.Helper()
	a, err := pki.Clone("../../fixtures/pki", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestIssueShapes(t *testing.T) {
	a := openCopy(t)
	tests := []struct {
		name    string
		opt     pki.IssueOptions
		purpose signing.KeyPurpose
		eku     x509.ExtKeyUsage
		users   []signing.KeyUser
	}{
		{"sign", pki.IssueOptions{IIN: "791028302728", Name: "A B C"}, signing.PurposeSign, x509.ExtKeyUsageEmailProtection, []signing.KeyUser{signing.KeyUserIndividual}},
		{"auth", pki.IssueOptions{IIN: "791028302728", Name: "A B", Kind: pki.KindAuth}, signing.PurposeAuth, x509.ExtKeyUsageClientAuth, []signing.KeyUser{signing.KeyUserIndividual}},
		{"org employee", pki.IssueOptions{IIN: "791028302728", Name: "A B", Kind: pki.KindOrg, BIN: "940140000385", Role: signing.KeyUserEmployee}, signing.PurposeSign, x509.ExtKeyUsageEmailProtection, []signing.KeyUser{signing.KeyUserOrganization, signing.KeyUserEmployee}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss, err := a.Issue(tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			c := iss.Certificate
			id := signing.IdentityOf(c)
			if id.Purpose != tt.purpose || len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != tt.eku || id.IIN != tt.opt.IIN || id.BIN != tt.opt.BIN {
				t.Fatalf("%+v %v", id, c.ExtKeyUsage)
			}
			if len(id.KeyUsers) != len(tt.users) || id.KeyUsers[len(id.KeyUsers)-1] != tt.users[len(tt.users)-1] {
				t.Fatalf("key users %v", id.KeyUsers)
			}
			if len(c.Policies) != 1 || c.Subject.Country[0] != "KZ" {
				t.Fatalf("policies %v subject %v", c.Policies, c.Subject)
			}
			if _, err := c.Verify(x509.VerifyOptions{Roots: a.TrustStore().Roots, Intermediates: a.TrustStore().Intermediates,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Fatal(err)
			}
		})
	}
	for name, bad := range map[string]pki.IssueOptions{
		"invalid IIN":       {IIN: "123456789011", Name: "A B"},
		"one-word name":     {IIN: "791028302728", Name: "A"},
		"org without BIN":   {IIN: "791028302728", Name: "A B", Kind: pki.KindOrg},
		"org with bad role": {IIN: "791028302728", Name: "A B", Kind: pki.KindOrg, BIN: "940140000385", Role: "janitor"},
		"unknown kind":      {IIN: "791028302728", Name: "A B", Kind: "gost"},
	} {
		if _, err := a.Issue(bad); err == nil {
			t.Errorf("%s: issued", name)
		}
	}
}

func TestRevokeAndCRL(t *testing.T) {
	a := openCopy(t)
	iss, err := a.Issue(pki.IssueOptions{IIN: "791028302728", Name: "A B"})
	if err != nil {
		t.Fatal(err)
	}
	stranger := openCopy(t) // same CA, separate index: never issued there
	if err := stranger.Revoke(iss.Certificate, time.Now(), 1); !errors.Is(err, pki.ErrNotIssued) {
		t.Fatalf("revoke of a foreign certificate: %v", err)
	}
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	if err := a.Revoke(iss.Certificate, at, 4); err != nil {
		t.Fatal(err)
	}
	first, err := a.CRL(at, at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	second, err := a.CRL(at, at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	l1, _ := x509.ParseRevocationList(first)
	l2, _ := x509.ParseRevocationList(second)
	if l2.Number.Cmp(l1.Number) <= 0 {
		t.Fatalf("CRL numbers %v then %v", l1.Number, l2.Number)
	}
	if err := l2.CheckSignatureFrom(a.CA); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range l2.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(iss.Certificate.SerialNumber) == 0 && e.RevocationTime.Equal(at) && e.ReasonCode == 4 {
			found = true
		}
	}
	if !found {
		t.Fatal("revoked certificate not in the CRL")
	}
}

func TestResponderOverHTTP(t *testing.T) {
	a := openCopy(t)
	iss, err := a.Issue(pki.IssueOptions{IIN: "791028302728", Name: "A B"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&pki.Responder{Authority: a})
	defer srv.Close()
	req, err := ocsp.CreateRequest(iss.Certificate, a.CA, nil)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *ocsp.Response {
		t.Helper()
		resp, err := http.Get(srv.URL + "/" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		r, err := ocsp.ParseResponseForCert(body, iss.Certificate, a.CA)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		return r
	}
	if r := get(url.PathEscape(base64.StdEncoding.EncodeToString(req))); r.Status != ocsp.Good {
		t.Fatalf("status %d", r.Status)
	}
	resp, err := http.Post(srv.URL, "application/ocsp-request", bytes.NewReader([]byte("garbage")))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(body, ocsp.MalformedRequestErrorResponse) {
		t.Fatalf("garbage request answered %x", body)
	}
	// A serial the authority never issued is unknown, not good.
	other := openCopy(t)
	foreign, err := other.Issue(pki.IssueOptions{IIN: "791028302728", Name: "A B"})
	if err != nil {
		t.Fatal(err)
	}
	freq, _ := ocsp.CreateRequest(foreign.Certificate, a.CA, nil)
	resp, err = http.Post(srv.URL, "application/ocsp-request", bytes.NewReader(freq))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	r, err := ocsp.ParseResponse(body, a.CA)
	if err != nil || r.Status != ocsp.Unknown {
		t.Fatalf("foreign serial: %+v %v", r, err)
	}
}

func TestGOSTLookalike(t *testing.T) {
	a := openCopy(t)
	c, err := a.IssueGOSTLookalike(pki.IssueOptions{IIN: "791028302728", Name: "A B"})
	if err != nil {
		t.Fatal(err)
	}
	if !signing.IsGOST(c) || c.PublicKeyAlgorithm != x509.UnknownPublicKeyAlgorithm || signing.IdentityOf(c).IIN != "791028302728" {
		t.Fatalf("not a GOST lookalike: %v %v", c.PublicKeyAlgorithm, c.SignatureAlgorithm)
	}
}

func TestInitRefusesExistingAuthority(t *testing.T) {
	a := openCopy(t)
	if _, err := pki.Init(a.Dir, pki.InitOptions{}); err == nil {
		t.Fatal("Init over an existing authority succeeded")
	}
	if _, err := pki.Open(t.TempDir()); err == nil {
		t.Fatal("Open of an empty directory succeeded")
	}
}

// TestTwoHoldersOfOneAuthorityLoseNothing: egovctl up, a replay and a load
// test may each open the same authority directory; every change each makes
// to the index must stay in it, as one process's would.
func TestTwoHoldersOfOneAuthorityLoseNothing(t *testing.T) {
	first := openCopy(t)
	second, err := pki.Open(first.Dir)
	if err != nil {
		t.Fatal(err)
	}
	number := func(a *pki.Authority) int64 {
		der, err := a.CRL(time.Now(), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		return crl.Number.Int64()
	}
	before := number(first)
	const each = 100
	var wg sync.WaitGroup
	for _, a := range []*pki.Authority{first, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := a.CRL(time.Now(), time.Now().Add(time.Hour)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got, want := number(second), before+2*each+1; got != want {
		t.Fatalf("CRL number %d after %d CRLs from two holders, want %d: updates were lost", got, 2*each, want)
	}
}
