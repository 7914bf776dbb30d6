package signing

import (
	"context"
	"log/slog"
	"time"
)

// Sources say where a verifier's trust and revocation data come from, as
// the binaries take them from their flags.
type Sources struct {
	TrustDir string // directory of CA certificates (PEM or DER)
	CRL      string // CRL file or URL; "" for none
	OCSPURL  string // OCSP responder; "" for none
	// RefreshEvery is how often the CRL is read again (default 10 minutes).
	RefreshEvery time.Duration
}

// Open loads the trust store and returns a verifier asking OCSP first and
// the CRL second. The CRL is refreshed in the background until ctx ends; a
// CRL that cannot be read yet is logged, and revocation stays fail-closed.
func (s Sources) Open(ctx context.Context, log *slog.Logger) (*Verifier, error) {
	trust, err := LoadTrustDir(s.TrustDir)
	if err != nil {
		return nil, err
	}
	rev := &Revocation{}
	if s.OCSPURL != "" {
		rev.OCSP = &OCSPClient{URL: s.OCSPURL}
	}
	if s.CRL != "" {
		rev.CRL = &CRLSet{Sources: []string{s.CRL}, Trust: trust}
		if err := rev.CRL.Refresh(ctx); err != nil && log != nil {
			log.Warn("crl not loaded", "err", err)
		}
		every := s.RefreshEvery
		if every <= 0 {
			every = 10 * time.Minute
		}
		go rev.CRL.Run(ctx, every, log)
	}
	return &Verifier{Trust: trust, Revocation: rev}, nil
}
