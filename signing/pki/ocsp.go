package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Responder answers OCSP requests about the authority's certificates from
// its index, so a revocation made with Revoke shows at once.
type Responder struct {
	Authority *Authority
	// Now is the responder's clock; nil means time.Now.
	Now func() time.Time
	// Validity is how far nextUpdate lies after thisUpdate (default 1 hour).
	Validity time.Duration
	// Delegate, when set, signs answers instead of the CA: a certificate
	// issued with KindOCSP and its key.
	Delegate *Issued
}

const maxOCSPRequest = 16 << 10

// ServeHTTP implements RFC 6960 over HTTP: POST with a DER body, or GET
// with the base64 request in the path.
func (r *Responder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var der []byte
	var err error
	switch req.Method {
	case http.MethodPost:
		der, err = io.ReadAll(io.LimitReader(req.Body, maxOCSPRequest))
	case http.MethodGet:
		var s string
		s, err = url.PathUnescape(strings.TrimPrefix(req.URL.Path, "/"))
		if err == nil {
			der, err = base64.StdEncoding.DecodeString(s)
		}
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if err != nil {
		r.write(w, ocsp.MalformedRequestErrorResponse)
		return
	}
	q, err := ocsp.ParseRequest(der)
	if err != nil {
		r.write(w, ocsp.MalformedRequestErrorResponse)
		return
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	validity := r.Validity
	if validity <= 0 {
		validity = time.Hour
	}
	tmpl := ocsp.Response{
		SerialNumber: q.SerialNumber,
		ThisUpdate:   now.Add(-time.Minute).UTC().Truncate(time.Second),
		NextUpdate:   now.Add(validity).UTC().Truncate(time.Second),
		Status:       ocsp.Unknown,
	}
	entry, known, err := r.Authority.status(q.SerialNumber)
	if err != nil {
		r.write(w, ocsp.InternalErrorErrorResponse)
		return
	}
	if known {
		tmpl.Status = ocsp.Good
		if !entry.RevokedAt.IsZero() && !entry.RevokedAt.After(now) {
			tmpl.Status = ocsp.Revoked
			tmpl.RevokedAt = entry.RevokedAt
			tmpl.RevocationReason = entry.RevokeCode
		}
	}
	responderCert, key := r.Authority.CA, r.Authority.caKey
	if r.Delegate != nil {
		responderCert, key = r.Delegate.Certificate, r.Delegate.Key
		tmpl.Certificate = r.Delegate.Certificate // embedded so clients can check its authority
	}
	resp, err := ocsp.CreateResponse(r.Authority.CA, responderCert, tmpl, key)
	if err != nil {
		r.write(w, ocsp.InternalErrorErrorResponse)
		return
	}
	r.write(w, resp)
}

func (r *Responder) write(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/ocsp-response")
	_, _ = w.Write(body)
}

// SignResponse lets tests forge answers: it signs template with any
// certificate and key, as a misbehaving responder would.
func SignResponse(issuer, responder *x509.Certificate, key crypto.Signer, tmpl ocsp.Response) ([]byte, error) {
	tmpl.Certificate = responder
	return ocsp.CreateResponse(issuer, responder, tmpl, key)
}
