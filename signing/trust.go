package signing

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// TrustStore is the set of certification authorities a verifier trusts:
// self-signed roots, and the intermediates (the NCA's issuing CAs) that a
// citizen's signature does not carry.
type TrustStore struct {
	Roots         *x509.CertPool
	Intermediates *x509.CertPool
	// Authorities holds every CA certificate, for finding the issuer of a
	// CRL or an OCSP response.
	Authorities []*x509.Certificate
}

// NewTrustStore sorts certificates into roots (self-signed) and
// intermediates.
func NewTrustStore(certs ...*x509.Certificate) *TrustStore {
	ts := &TrustStore{Roots: x509.NewCertPool(), Intermediates: x509.NewCertPool()}
	for _, c := range certs {
		ts.Add(c)
	}
	return ts
}

// Add puts one CA certificate into the store and reports whether it went
// in as a root.
func (ts *TrustStore) Add(c *x509.Certificate) (root bool) {
	root = bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
	if root {
		ts.Roots.AddCert(c)
	} else {
		ts.Intermediates.AddCert(c)
	}
	ts.Authorities = append(ts.Authorities, c)
	return root
}

// LoadTrustDir reads every certificate file (PEM or DER; .pem, .crt, .cer,
// .der) in dir. A directory without a single root is an error: trusting
// nothing would refuse every citizen.
func LoadTrustDir(dir string) (*TrustStore, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("trust store: %w", err)
	}
	ts := NewTrustStore()
	roots := 0
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".pem" && ext != ".crt" && ext != ".cer" && ext != ".der") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("trust store: %w", err)
		}
		certs, err := ParseCertificates(data)
		if err != nil {
			return nil, fmt.Errorf("trust store: %s: %w", e.Name(), err)
		}
		for _, c := range certs {
			if !c.IsCA {
				return nil, fmt.Errorf("trust store: %s: %q is not a CA certificate", e.Name(), c.Subject.CommonName)
			}
			if ts.Add(c) {
				roots++
			}
		}
	}
	if roots == 0 {
		return nil, fmt.Errorf("trust store: no self-signed root certificate in %s", dir)
	}
	return ts, nil
}

// ParseCertificates reads one DER certificate or any number of PEM
// CERTIFICATE blocks.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, err
		}
		return []*x509.Certificate{c}, nil
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CERTIFICATE block")
	}
	return out, nil
}
