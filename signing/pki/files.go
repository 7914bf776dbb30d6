package pki

import (
	"crypto/rand"
	"os"

	"software.sslmate.com/src/go-pkcs12"
)

// DefaultPassword protects test key stores unless another is given. It is
// the password the NCA uses for its own published test keys.
const DefaultPassword = "Qwerty12"

// Write stores an issued certificate as PREFIX.p12 (key, certificate and
// the CA chain, protected by password), PREFIX.crt (PEM) and PREFIX.key
// (unencrypted PEM, for tools that cannot read PKCS#12).
func (a *Authority) Write(iss *Issued, prefix, password string) error {
	p12, err := pkcs12.Modern.WithRand(rand.Reader).Encode(iss.Key, iss.Certificate, nil, password)
	if err != nil {
		return err
	}
	if err := os.WriteFile(prefix+".p12", p12, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(prefix+".crt", append(certPEM(iss.Certificate), certPEM(a.CA)...), 0o644); err != nil {
		return err
	}
	return os.WriteFile(prefix+".key", keyPEM(iss.Key), 0o600)
}
