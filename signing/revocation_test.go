package signing_test

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"egov"
	"egov/signing"
	"egov/signing/pki"
)

// countingHandler counts the requests that reach h.
type countingHandler struct {
	n atomic.Int64
	h http.Handler
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.h.ServeHTTP(w, r)
}

func issueCitizen(t *testing.T, a *pki.Authority) *pki.Issued {
	t.Helper()
	iss, err := a.Issue(pki.IssueOptions{IIN: "791028302728", Name: "ЖАҚСЫЛЫҚОВ АЙДОС", NotBefore: validFrom, NotAfter: validUntil})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func TestOCSPRevocation(t *testing.T) {
	a := copyAuthority(t)
	good := issueCitizen(t, a)
	revoked := issueCitizen(t, a)
	if err := a.Revoke(revoked.Certificate, revokedAt, ocsp.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	delegate, err := a.Issue(pki.IssueOptions{Kind: pki.KindOCSP, NotBefore: validFrom, NotAfter: validUntil})
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := a.Issue(pki.IssueOptions{IIN: "900101300811", Name: "ОМАРОВА ДИНАРА", NotBefore: validFrom, NotAfter: validUntil})
	if err != nil {
		t.Fatal(err)
	}
	now := corpusTime
	tests := []struct {
		name      string
		responder http.Handler
		cert      *pki.Issued
		code      egov.Code
		revoked   bool
	}{
		{"good, signed by the CA", &pki.Responder{Authority: a, Now: fixedClock(now)}, good, "", false},
		{"revoked", &pki.Responder{Authority: a, Now: fixedClock(now)}, revoked, egov.CodeCertificateRevoked, true},
		{"delegated responder with OCSPSigning", &pki.Responder{Authority: a, Now: fixedClock(now), Delegate: delegate}, good, "", false},
		{"delegated responder without OCSPSigning", &pki.Responder{Authority: a, Now: fixedClock(now), Delegate: stranger}, good, egov.CodeRevocationUnknown, false},
		{"stale answer", &pki.Responder{Authority: a, Now: fixedClock(now.Add(-3 * time.Hour))}, good, egov.CodeRevocationUnknown, false},
		{"answer from the future", &pki.Responder{Authority: a, Now: fixedClock(now.Add(time.Hour))}, good, egov.CodeRevocationUnknown, false},
		{"try later", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(ocsp.TryLaterErrorResponse) }), good, egov.CodeRevocationUnknown, false},
		{"server error", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }), good, egov.CodeRevocationUnknown, false},
		{"forged by a key outside the PKI", forgingResponder(t, a, fixtureSigner(t, "untrusted")), good, egov.CodeRevocationUnknown, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.responder)
			defer srv.Close()
			rev := &signing.Revocation{OCSP: &signing.OCSPClient{URL: srv.URL}}
			st, err := rev.Check(context.Background(), tt.cert.Certificate, a.CA, now)
			if got := egov.ErrorCode(err); got != tt.code {
				t.Fatalf("got %q (%v), want %q", got, err, tt.code)
			}
			if tt.code == "" || tt.revoked {
				if st.Source != signing.SourceOCSP || st.Revoked != tt.revoked || st.NextUpdate.IsZero() {
					t.Fatalf("status %+v", st)
				}
			}
		})
	}
}

// forgingResponder answers "good" for everything, signed with a key the CA
// never authorised.
func forgingResponder(t *testing.T, a *pki.Authority, impostor *signing.Signer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body [4096]byte
		n, _ := r.Body.Read(body[:])
		req, err := ocsp.ParseRequest(body[:n])
		if err != nil {
			w.WriteHeader(400)
			return
		}
		resp, err := pki.SignResponse(a.CA, impostor.Certificate, impostor.Key, ocsp.Response{
			Status: ocsp.Good, SerialNumber: req.SerialNumber,
			ThisUpdate: corpusTime.Add(-time.Minute), NextUpdate: corpusTime.Add(time.Hour),
		})
		if err != nil {
			t.Error(err)
		}
		_, _ = w.Write(resp)
	})
}

func TestOCSPCacheAndCRLFallback(t *testing.T) {
	a := copyAuthority(t)
	cert := issueCitizen(t, a)
	counter := &countingHandler{h: &pki.Responder{Authority: a, Now: fixedClock(corpusTime)}}
	srv := httptest.NewServer(counter)
	client := &signing.OCSPClient{URL: srv.URL}
	crl := crlSet(t, a, corpusTime.Add(-time.Hour), corpusTime.Add(24*time.Hour))
	rev := &signing.Revocation{OCSP: client, CRL: crl}

	for i := 0; i < 3; i++ {
		if _, err := rev.Check(context.Background(), cert.Certificate, a.CA, corpusTime); err != nil {
			t.Fatal(err)
		}
	}
	if n := counter.n.Load(); n != 1 {
		t.Fatalf("responder asked %d times, want 1 (answers cached until nextUpdate)", n)
	}
	// After nextUpdate the cache is not used. The responder's clock stays
	// at corpusTime, so at +2h its fresh answer is already stale and the
	// CRL (valid for 24h) answers instead.
	st, err := rev.Check(context.Background(), cert.Certificate, a.CA, corpusTime.Add(2*time.Hour))
	if err != nil || st.Source != signing.SourceCRL {
		t.Fatalf("after nextUpdate: %+v %v", st, err)
	}
	if n := counter.n.Load(); n != 2 {
		t.Fatalf("responder asked %d times after nextUpdate, want 2", n)
	}

	// Responder gone: the CRL answers.
	srv.Close()
	st, err = rev.Check(context.Background(), cert.Certificate, a.CA, corpusTime.Add(3*time.Hour))
	if err != nil || st.Source != signing.SourceCRL {
		t.Fatalf("fallback: %+v %v", st, err)
	}
	// CRL stale too: fail closed, unless told otherwise.
	late := corpusTime.Add(48 * time.Hour)
	if _, err := rev.Check(context.Background(), cert.Certificate, a.CA, late); egov.ErrorCode(err) != egov.CodeRevocationUnknown {
		t.Fatalf("stale everything: got %v, want revocation-unknown", err)
	}
	rev.AllowUnknown = true
	if st, err := rev.Check(context.Background(), cert.Certificate, a.CA, late); err != nil || st.Source != signing.SourceNone {
		t.Fatalf("AllowUnknown: %+v %v", st, err)
	}
}

func crlSet(t *testing.T, a *pki.Authority, this, next time.Time) *signing.CRLSet {
	t.Helper()
	der, err := a.CRL(this, next)
	if err != nil {
		t.Fatal(err)
	}
	set := &signing.CRLSet{Trust: a.TrustStore()}
	if err := set.Add(der); err != nil {
		t.Fatal(err)
	}
	return set
}

func TestCRL(t *testing.T) {
	a := copyAuthority(t)
	good := issueCitizen(t, a)
	bad := issueCitizen(t, a)
	if err := a.Revoke(bad.Certificate, revokedAt, 1); err != nil {
		t.Fatal(err)
	}
	if (&signing.CRLSet{}).Fresh(corpusTime) == nil {
		t.Fatal("an empty CRL set reads as fresh")
	}
	set := crlSet(t, a, corpusTime.Add(-time.Hour), corpusTime.Add(time.Hour))
	if set.Fresh(corpusTime) != nil || set.Fresh(corpusTime.Add(2*time.Hour)) == nil {
		t.Fatal("Fresh does not follow nextUpdate")
	}
	rev := &signing.Revocation{CRL: set}
	if _, err := rev.Check(context.Background(), good.Certificate, a.CA, corpusTime); err != nil {
		t.Fatalf("good: %v", err)
	}
	st, err := rev.Check(context.Background(), bad.Certificate, a.CA, corpusTime)
	if egov.ErrorCode(err) != egov.CodeCertificateRevoked || !st.RevokedAt.Equal(revokedAt) {
		t.Fatalf("revoked: %+v %v", st, err)
	}
	// A certificate revoked later than the signing time was good then.
	if _, err := rev.Check(context.Background(), bad.Certificate, a.CA, revokedAt.Add(-time.Hour)); egov.ErrorCode(err) != egov.CodeRevocationUnknown {
		// the list is from corpusTime, so before revokedAt it is "from the future"
		t.Fatalf("list from the future: %v", err)
	}

	// A list signed by an authority outside the trust store is refused.
	other, err := pki.Init(t.TempDir(), pki.InitOptions{Bits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	der, err := other.CRL(corpusTime, corpusTime.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Add(der); err == nil {
		t.Fatal("CRL of an untrusted issuer accepted")
	}

	// A newer list replaces an older one; an older one does not replace a newer one.
	if err := a.Revoke(good.Certificate, corpusTime.Add(-time.Minute), 1); err != nil {
		t.Fatal(err)
	}
	newer, _ := a.CRL(corpusTime, corpusTime.Add(time.Hour))
	if err := set.Add(newer); err != nil {
		t.Fatal(err)
	}
	if _, err := rev.Check(context.Background(), good.Certificate, a.CA, corpusTime); egov.ErrorCode(err) != egov.CodeCertificateRevoked {
		t.Fatalf("after newer CRL: %v", err)
	}
}

func TestCRLRefreshFromFileAndURL(t *testing.T) {
	a := copyAuthority(t)
	der, err := a.CRL(corpusTime, corpusTime.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.crl")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(der) }))
	defer srv.Close()
	for _, src := range []string{path, srv.URL + "/ca.crl"} {
		set := &signing.CRLSet{Sources: []string{src}, Trust: a.TrustStore()}
		if err := set.Refresh(context.Background()); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if _, err := set.Status(context.Background(), a.CA, a.CA, corpusTime); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
	}
	set := &signing.CRLSet{Sources: []string{filepath.Join(t.TempDir(), "missing.crl")}, Trust: a.TrustStore()}
	if err := set.Refresh(context.Background()); err == nil {
		t.Fatal("missing CRL file: no error")
	}
}

func TestCRLRunRefreshesInBackground(t *testing.T) {
	a := copyAuthority(t)
	cert := issueCitizen(t, a)
	path := filepath.Join(t.TempDir(), "ca.crl")
	first, err := a.CRL(corpusTime, corpusTime.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, first, 0o644); err != nil {
		t.Fatal(err)
	}
	set := &signing.CRLSet{Sources: []string{path}, Trust: a.TrustStore()}
	if err := set.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { set.Run(ctx, 10*time.Millisecond, nil); close(done) }()
	defer func() { cancel(); <-done }()

	if err := a.Revoke(cert.Certificate, revokedAt, 1); err != nil {
		t.Fatal(err)
	}
	// The new list is later by its thisUpdate, so it replaces the old one.
	der, err := a.CRL(corpusTime.Add(time.Second), corpusTime.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, der, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := set.Status(ctx, cert.Certificate, a.CA, corpusTime.Add(time.Minute)); err == nil && st.Revoked {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("background refresh never picked up the new list")
}
