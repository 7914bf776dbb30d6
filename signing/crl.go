package signing

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"egov/internal/periodic"
)

// CRLSet holds certificate revocation lists, one per issuing CA, loaded
// from files or URLs. A list is accepted only when an authority of the
// trust store signed it; a list past its nextUpdate answers nothing, so the
// policy falls through to "unknown" instead of trusting stale data.
type CRLSet struct {
	Sources []string // file paths or http(s) URLs
	Trust   *TrustStore
	HTTP    *http.Client
	// Skew tolerated on thisUpdate and nextUpdate (default 5 minutes).
	Skew time.Duration

	mu    sync.RWMutex
	lists map[string]*loadedCRL // by raw issuer subject
}

type loadedCRL struct {
	thisUpdate, nextUpdate time.Time
	number                 string
	revoked                map[string]x509.RevocationListEntry // by serial (decimal)
}

const maxCRLBytes = 32 << 20

// Refresh loads every source again. A source that fails keeps its previous
// list; the errors of all failed sources are returned together.
func (s *CRLSet) Refresh(ctx context.Context) error {
	var errs []error
	for _, src := range s.Sources {
		data, err := s.fetch(ctx, src)
		if err != nil {
			errs = append(errs, fmt.Errorf("crl %s: %w", src, err))
			continue
		}
		if err := s.Add(data); err != nil {
			errs = append(errs, fmt.Errorf("crl %s: %w", src, err))
		}
	}
	return errors.Join(errs...)
}

// Add verifies one CRL (DER or PEM) against the trust store and installs it
// unless a list with a later thisUpdate from the same issuer is already in.
func (s *CRLSet) Add(data []byte) error {
	if block, _ := pem.Decode(data); block != nil {
		data = block.Bytes
	}
	crl, err := x509.ParseRevocationList(data)
	if err != nil {
		return err
	}
	issuer := s.issuerOf(crl)
	if issuer == nil {
		return fmt.Errorf("not signed by a trusted authority (%s)", crl.Issuer.CommonName)
	}
	l := &loadedCRL{
		thisUpdate: crl.ThisUpdate,
		nextUpdate: crl.NextUpdate,
		revoked:    make(map[string]x509.RevocationListEntry, len(crl.RevokedCertificateEntries)),
	}
	if crl.Number != nil {
		l.number = crl.Number.String()
	}
	for _, e := range crl.RevokedCertificateEntries {
		l.revoked[e.SerialNumber.String()] = e
	}
	key := string(issuer.RawSubject)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lists == nil {
		s.lists = make(map[string]*loadedCRL)
	}
	if old, ok := s.lists[key]; ok && old.thisUpdate.After(l.thisUpdate) {
		return nil
	}
	s.lists[key] = l
	return nil
}

func (s *CRLSet) issuerOf(crl *x509.RevocationList) *x509.Certificate {
	if s.Trust == nil {
		return nil
	}
	for _, ca := range s.Trust.Authorities {
		if bytes.Equal(ca.RawSubject, crl.RawIssuer) && crl.CheckSignatureFrom(ca) == nil {
			return ca
		}
	}
	return nil
}

// Status looks the certificate up in its issuer's list. No list, or a list
// not fresh at now, is "unavailable", never "good".
func (s *CRLSet) Status(_ context.Context, cert, issuer *x509.Certificate, now time.Time) (RevocationStatus, error) {
	s.mu.RLock()
	l := s.lists[string(issuer.RawSubject)]
	s.mu.RUnlock()
	if l == nil {
		return RevocationStatus{}, fmt.Errorf("crl: %w: no list from %s", errRevocationUnavailable, issuer.Subject.CommonName)
	}
	skew := s.Skew
	if skew <= 0 {
		skew = 5 * time.Minute
	}
	if l.thisUpdate.After(now.Add(skew)) {
		return RevocationStatus{}, fmt.Errorf("crl: %w: list from the future", errRevocationUnavailable)
	}
	if l.nextUpdate.IsZero() || now.After(l.nextUpdate.Add(skew)) {
		return RevocationStatus{}, fmt.Errorf("crl: %w: list is stale (nextUpdate %s)", errRevocationUnavailable, l.nextUpdate.UTC().Format(time.RFC3339))
	}
	st := RevocationStatus{Source: SourceCRL, ThisUpdate: l.thisUpdate, NextUpdate: l.nextUpdate}
	if e, ok := l.revoked[cert.SerialNumber.String()]; ok {
		st.Revoked, st.RevokedAt, st.Reason = true, e.RevocationTime, e.ReasonCode
	}
	return st, nil
}

// Run refreshes the lists every interval until ctx ends. Failures are
// logged; the old lists stay until they go stale.
func (s *CRLSet) Run(ctx context.Context, interval time.Duration, log *slog.Logger) {
	periodic.Every(ctx, interval, func(ctx context.Context) {
		if err := s.Refresh(ctx); err != nil && log != nil {
			log.Warn("crl refresh failed", "err", err)
		}
	})
}

func (s *CRLSet) fetch(ctx context.Context, src string) ([]byte, error) {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		return os.ReadFile(src)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, err
	}
	client := s.HTTP
	if client == nil {
		client = defaultRevocationHTTP
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCRLBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxCRLBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxCRLBytes)
	}
	return data, nil
}

// Fresh reports an error when no list is loaded or one of them is past
// its nextUpdate at now: revocation answers would be "unknown".
func (s *CRLSet) Fresh(now time.Time) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.lists) == 0 {
		return errors.New("crl: no list loaded")
	}
	for _, l := range s.lists {
		if now.After(l.nextUpdate) {
			return fmt.Errorf("crl: a list went stale at %s", l.nextUpdate.UTC().Format(time.RFC3339))
		}
	}
	return nil
}
