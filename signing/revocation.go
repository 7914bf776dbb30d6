package signing

import (
	"context"
	"crypto/x509"
	"errors"
	"time"

	"egov"
)

// RevocationSource names where a revocation answer came from.
type RevocationSource string

const (
	SourceOCSP RevocationSource = "ocsp"
	SourceCRL  RevocationSource = "crl"
	// SourceNone means no check was made: only when the verifier is
	// configured to accept an unknown revocation state.
	SourceNone RevocationSource = "none"
)

// RevocationStatus is the answer about one certificate.
type RevocationStatus struct {
	Source     RevocationSource `json:"source"`
	Revoked    bool             `json:"revoked"`
	RevokedAt  time.Time        `json:"revokedAt,omitzero"`
	Reason     int              `json:"reason,omitempty"`
	ThisUpdate time.Time        `json:"thisUpdate,omitzero"` // when the answer was produced
	NextUpdate time.Time        `json:"nextUpdate,omitzero"` // until when it may be relied on
}

// errRevocationUnavailable marks an answer that could not be obtained or
// trusted (network, bad signature, stale data, unknown serial); the policy
// decides whether to try the next source.
var errRevocationUnavailable = errors.New("revocation status unavailable")

// RevocationChecker answers whether a certificate issued by issuer was
// revoked at time now.
type RevocationChecker interface {
	Status(ctx context.Context, cert, issuer *x509.Certificate, now time.Time) (RevocationStatus, error)
}

// Revocation is the verifier's revocation policy: OCSP first, the CRL as a
// fallback, and anything still unknown refused (fail closed) unless
// AllowUnknown is set.
type Revocation struct {
	OCSP *OCSPClient
	CRL  *CRLSet
	// AllowUnknown accepts a certificate whose status nobody could tell.
	// Off by default: "unknown" is not "good".
	AllowUnknown bool
}

// Check returns the status from the first source that can answer, a
// certificate-revoked refusal for a revoked certificate, and a
// revocation-unknown refusal when no source can answer.
func (r *Revocation) Check(ctx context.Context, cert, issuer *x509.Certificate, now time.Time) (RevocationStatus, error) {
	var errs []error
	sources := []RevocationChecker{}
	if r.OCSP != nil {
		sources = append(sources, r.OCSP)
	}
	if r.CRL != nil {
		sources = append(sources, r.CRL)
	}
	for _, src := range sources {
		st, err := src.Status(ctx, cert, issuer, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st.Revoked && !st.RevokedAt.After(now) {
			return st, egov.Errorf(egov.CodeCertificateRevoked, "revoked at %s (%s)", st.RevokedAt.UTC().Format(time.RFC3339), st.Source)
		}
		return st, nil
	}
	if r.AllowUnknown {
		return RevocationStatus{Source: SourceNone}, nil
	}
	if len(errs) == 0 {
		return RevocationStatus{}, egov.Errorf(egov.CodeRevocationUnknown, "no revocation source configured")
	}
	return RevocationStatus{}, egov.Errorf(egov.CodeRevocationUnknown, "%w", errors.Join(errs...))
}
