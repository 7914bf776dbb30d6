package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// OCSPClient asks one configured OCSP responder about certificates. The
// URL is configured rather than read from the certificate's AIA, so that a
// forged certificate cannot make the gateway dial an address of its
// choosing.
type OCSPClient struct {
	URL string
	// HTTP is the client used for requests; nil means a client with a 5 s
	// timeout.
	HTTP *http.Client
	// Skew is the clock difference tolerated between us and the
	// responder for thisUpdate and nextUpdate (default 5 minutes).
	Skew time.Duration
	// MaxAge bounds how long an answer without nextUpdate is trusted and
	// cached (default 1 hour).
	MaxAge time.Duration

	mu    sync.Mutex
	cache map[string]RevocationStatus
}

const maxOCSPResponse = 64 << 10

// Status queries the responder, checks the response's signature and the
// responder's authority, its freshness at now, and caches a good or revoked
// answer until its nextUpdate.
func (c *OCSPClient) Status(ctx context.Context, cert, issuer *x509.Certificate, now time.Time) (RevocationStatus, error) {
	key := string(issuer.RawSubject) + "|" + cert.SerialNumber.String()
	if st, ok := c.cached(key, now); ok {
		return st, nil
	}
	req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		return RevocationStatus{}, fmt.Errorf("ocsp: %w: %v", errRevocationUnavailable, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(req))
	if err != nil {
		return RevocationStatus{}, fmt.Errorf("ocsp: %w: %v", errRevocationUnavailable, err)
	}
	hreq.Header.Set("Content-Type", "application/ocsp-request")
	hreq.Header.Set("Accept", "application/ocsp-response")
	resp, err := c.httpClient().Do(hreq)
	if err != nil {
		return RevocationStatus{}, fmt.Errorf("ocsp: %w: %v", errRevocationUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return RevocationStatus{}, fmt.Errorf("ocsp: %w: responder answered %s", errRevocationUnavailable, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxOCSPResponse+1))
	if err != nil || len(body) > maxOCSPResponse {
		return RevocationStatus{}, fmt.Errorf("ocsp: %w: unreadable or oversized response", errRevocationUnavailable)
	}
	st, err := c.judge(body, cert, issuer, now)
	if err != nil {
		return RevocationStatus{}, err
	}
	c.store(key, st)
	return st, nil
}

// judge turns a DER response into a status, refusing anything it cannot
// trust. x/crypto/ocsp checks the signature (by the issuer or by a
// certificate the issuer signed); the rest is ours.
func (c *OCSPClient) judge(der []byte, cert, issuer *x509.Certificate, now time.Time) (RevocationStatus, error) {
	r, err := ocsp.ParseResponseForCert(der, cert, issuer)
	if err != nil {
		return RevocationStatus{}, fmt.Errorf("ocsp: %w: %v", errRevocationUnavailable, err)
	}
	if r.SerialNumber == nil || r.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		return RevocationStatus{}, fmt.Errorf("ocsp: %w: answer for another serial", errRevocationUnavailable)
	}
	if d := r.Certificate; d != nil && !d.Equal(issuer) {
		// A delegated responder must be entitled to sign OCSP answers and
		// be valid now.
		if !hasExtKeyUsage(d, x509.ExtKeyUsageOCSPSigning) {
			return RevocationStatus{}, fmt.Errorf("ocsp: %w: responder certificate lacks OCSPSigning", errRevocationUnavailable)
		}
		if now.Before(d.NotBefore) || now.After(d.NotAfter) {
			return RevocationStatus{}, fmt.Errorf("ocsp: %w: responder certificate not valid now", errRevocationUnavailable)
		}
	}
	skew := c.skew()
	if r.ThisUpdate.After(now.Add(skew)) {
		return RevocationStatus{}, fmt.Errorf("ocsp: %w: answer from the future (thisUpdate %s)", errRevocationUnavailable, r.ThisUpdate.UTC().Format(time.RFC3339))
	}
	next := r.NextUpdate
	if next.IsZero() {
		next = r.ThisUpdate.Add(c.maxAge())
	}
	if now.After(next.Add(skew)) {
		return RevocationStatus{}, fmt.Errorf("ocsp: %w: stale answer (nextUpdate %s)", errRevocationUnavailable, next.UTC().Format(time.RFC3339))
	}
	st := RevocationStatus{Source: SourceOCSP, ThisUpdate: r.ThisUpdate, NextUpdate: next}
	switch r.Status {
	case ocsp.Good:
	case ocsp.Revoked:
		st.Revoked, st.RevokedAt, st.Reason = true, r.RevokedAt, r.RevocationReason
	default:
		return RevocationStatus{}, fmt.Errorf("ocsp: %w: responder does not know the certificate", errRevocationUnavailable)
	}
	return st, nil
}

func (c *OCSPClient) cached(key string, now time.Time) (RevocationStatus, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.cache[key]
	if !ok {
		return RevocationStatus{}, false
	}
	if now.After(st.NextUpdate) || now.Before(st.ThisUpdate.Add(-c.skew())) {
		delete(c.cache, key)
		return RevocationStatus{}, false
	}
	return st, true
}

// maxOCSPCache bounds the answers kept; beyond it the cache starts over,
// which costs one responder round trip per citizen, never a wrong answer.
const maxOCSPCache = 100_000

func (c *OCSPClient) store(key string, st RevocationStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache == nil || len(c.cache) >= maxOCSPCache {
		c.cache = make(map[string]RevocationStatus)
	}
	c.cache[key] = st
}

func (c *OCSPClient) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultRevocationHTTP
}

func (c *OCSPClient) skew() time.Duration {
	if c.Skew > 0 {
		return c.Skew
	}
	return 5 * time.Minute
}

func (c *OCSPClient) maxAge() time.Duration {
	if c.MaxAge > 0 {
		return c.MaxAge
	}
	return time.Hour
}

var defaultRevocationHTTP = &http.Client{Timeout: 5 * time.Second}

func hasExtKeyUsage(c *x509.Certificate, u x509.ExtKeyUsage) bool {
	for _, e := range c.ExtKeyUsage {
		if e == u {
			return true
		}
	}
	return false
}
