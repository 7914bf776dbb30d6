// Package pki is a test public-key infrastructure in the style of
// Kazakhstan's National Certification Authority (НУЦ РК): a root, an
// issuing CA, citizens' signing and authentication certificates, provider
// (organisation) certificates, revocation by CRL and OCSP.
//
// Everything it makes is for tests and demonstrations only: CA keys are
// stored unencrypted next to the certificates.
package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"egov/signing"
)

// File names inside an authority's directory.
const (
	rootCertFile = "root.crt"
	rootKeyFile  = "root.key"
	caCertFile   = "ca.crt"
	caKeyFile    = "ca.key"
	indexFile    = "index.json"
	// TrustDir holds the certificates a verifier should trust.
	TrustDir = "trust"
)

// Authority is a test root plus the issuing CA that signs end-entity
// certificates, CRLs and OCSP answers.
type Authority struct {
	Dir     string
	Root    *x509.Certificate
	CA      *x509.Certificate
	rootKey crypto.Signer
	caKey   crypto.Signer

	mu sync.Mutex // guards index.json
}

// InitOptions name the authority; zero values give the NCA-style test names.
type InitOptions struct {
	RootName string
	CAName   string
	// Bits of the CA keys; default 2048.
	Bits int
	// NotBefore/NotAfter of both CA certificates; default 2020-01-01 to 2045-01-01.
	NotBefore, NotAfter time.Time
}

// Init creates a new authority in dir (which must not already hold one) and
// writes dir/trust/ with the root and the issuing CA.
func Init(dir string, opt InitOptions) (*Authority, error) {
	if _, err := os.Stat(filepath.Join(dir, caCertFile)); err == nil {
		return nil, fmt.Errorf("pki: %s already holds an authority", dir)
	}
	if opt.RootName == "" {
		opt.RootName = "НЕГІЗГІ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA) TEST"
	}
	if opt.CAName == "" {
		opt.CAName = "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA) TEST"
	}
	if opt.Bits == 0 {
		opt.Bits = 2048
	}
	if opt.NotBefore.IsZero() {
		opt.NotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if opt.NotAfter.IsZero() {
		opt.NotAfter = time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	rootKey, err := rsa.GenerateKey(rand.Reader, opt.Bits)
	if err != nil {
		return nil, err
	}
	caKey, err := rsa.GenerateKey(rand.Reader, opt.Bits)
	if err != nil {
		return nil, err
	}
	testOrg := []string{"EGOV-GATEWAY TEST PKI - NOT FOR PRODUCTION"}
	rootTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: opt.RootName, Organization: testOrg, Country: []string{"KZ"}},
		NotBefore:             opt.NotBefore,
		NotAfter:              opt.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	root, _ := x509.ParseCertificate(rootDER)
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: opt.CAName, Country: []string{"KZ"}},
		NotBefore:             opt.NotBefore,
		NotAfter:              opt.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		Policies:              []x509.OID{mustOID(signing.OIDPolicyCA)},
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, root, &caKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	a := &Authority{Dir: dir, Root: root, CA: ca, rootKey: rootKey, caKey: caKey}
	if err := os.MkdirAll(filepath.Join(dir, TrustDir), 0o755); err != nil {
		return nil, err
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{rootCertFile, certPEM(root), 0o644},
		{caCertFile, certPEM(ca), 0o644},
		{rootKeyFile, keyPEM(rootKey), 0o600},
		{caKeyFile, keyPEM(caKey), 0o600},
		{filepath.Join(TrustDir, "root.crt"), certPEM(root), 0o644},
		{filepath.Join(TrustDir, "ca.crt"), certPEM(ca), 0o644},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return nil, err
		}
	}
	if err := a.saveIndex(&index{}); err != nil {
		return nil, err
	}
	return a, nil
}

// Open loads an authority that Init created.
func Open(dir string) (*Authority, error) {
	a := &Authority{Dir: dir}
	var err error
	if a.Root, a.rootKey, err = loadPair(filepath.Join(dir, rootCertFile), filepath.Join(dir, rootKeyFile)); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if a.CA, a.caKey, err = loadPair(filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return a, nil
}

func loadPair(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	cp, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	kp, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	s, err := signing.ParsePEM(cp, kp)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certPath, err)
	}
	return s.Certificate, s.Key, nil
}

// TrustStore returns the store a verifier of this authority's certificates
// needs.
func (a *Authority) TrustStore() *signing.TrustStore {
	return signing.NewTrustStore(a.Root, a.CA)
}

// Kind is the kind of end-entity certificate to issue.
type Kind string

const (
	KindSign Kind = "sign" // an individual's signing key (digitalSignature+nonRepudiation)
	KindAuth Kind = "auth" // an individual's authentication key (digitalSignature+keyEncipherment)
	KindOrg  Kind = "org"  // an organisation's signing key for a person acting for it
	KindOCSP Kind = "ocsp" // a delegated OCSP responder
)

// IssueOptions describe one end-entity certificate.
type IssueOptions struct {
	IIN string
	// Name is "SURNAME GIVEN [PATRONYMIC]": CN takes the first two words,
	// SURNAME the first and GIVENNAME (the patronymic, as in NCA
	// certificates) the third when present.
	Name         string
	Kind         Kind
	BIN          string
	Organization string
	// Role of an organisation's key user: ceo, can-sign or employee.
	Role                signing.KeyUser
	NotBefore, NotAfter time.Time
	// Bits of the RSA key; default 2048. Smaller keys exist only to be
	// refused.
	Bits int
	// OCSPURL and CRLURL are written into the certificate as the NCA does;
	// verifiers use their own configured addresses.
	OCSPURL, CRLURL string
}

// Issued is a new certificate with its private key.
type Issued struct {
	Certificate *x509.Certificate
	Key         crypto.Signer
}

// Issue creates and records an end-entity certificate signed by the
// issuing CA.
func (a *Authority) Issue(opt IssueOptions) (*Issued, error) {
	tmpl, key, err := a.template(opt)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.CA, key.Public(), a.caKey)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := a.record(cert); err != nil {
		return nil, err
	}
	return &Issued{Certificate: cert, Key: key}, nil
}

func (a *Authority) template(opt IssueOptions) (*x509.Certificate, *rsa.PrivateKey, error) {
	if opt.Kind == "" {
		opt.Kind = KindSign
	}
	if opt.Bits == 0 {
		opt.Bits = 2048
	}
	if opt.NotBefore.IsZero() {
		opt.NotBefore = time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	}
	if opt.NotAfter.IsZero() {
		opt.NotAfter = opt.NotBefore.AddDate(1, 0, 0)
	}
	key, err := rsa.GenerateKey(rand.Reader, opt.Bits)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		NotBefore:    opt.NotBefore,
		NotAfter:     opt.NotAfter,
	}
	if opt.OCSPURL != "" {
		tmpl.OCSPServer = []string{opt.OCSPURL}
	}
	if opt.CRLURL != "" {
		tmpl.CRLDistributionPoints = []string{opt.CRLURL}
	}
	if opt.Kind == KindOCSP {
		tmpl.Subject = pkix.Name{CommonName: "OCSP RESPONDER " + a.CA.Subject.CommonName, Country: []string{"KZ"}}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
		return tmpl, key, nil
	}

	if _, err := signing.ParseIIN(opt.IIN); err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	words := strings.Fields(opt.Name)
	if len(words) < 2 {
		return nil, nil, errors.New("pki: name must be \"SURNAME GIVEN [PATRONYMIC]\"")
	}
	tmpl.Subject = pkix.Name{
		CommonName:   words[0] + " " + words[1],
		SerialNumber: "IIN" + opt.IIN,
		Country:      []string{"KZ"},
		ExtraNames:   []pkix.AttributeTypeAndValue{{Type: signing.OIDSurname, Value: words[0]}},
	}
	if len(words) > 2 {
		tmpl.Subject.ExtraNames = append(tmpl.Subject.ExtraNames,
			pkix.AttributeTypeAndValue{Type: signing.OIDGivenName, Value: strings.Join(words[2:], " ")})
	}
	users := []asn1.ObjectIdentifier{signing.OIDKeyUserIndividual}
	if opt.BIN != "" || opt.Kind == KindOrg {
		if _, err := signing.ParseBIN(opt.BIN); err != nil {
			return nil, nil, fmt.Errorf("pki: %w", err)
		}
		if opt.Organization == "" {
			opt.Organization = "ОРГАНИЗАЦИЯ " + opt.BIN
		}
		tmpl.Subject.Organization = []string{opt.Organization}
		tmpl.Subject.OrganizationalUnit = []string{"BIN" + opt.BIN}
		if opt.Role == "" {
			opt.Role = signing.KeyUserCEO
		}
		roleOID, ok := signing.OIDOfKeyUser(opt.Role)
		if !ok || opt.Role == signing.KeyUserIndividual || opt.Role == signing.KeyUserOrganization {
			return nil, nil, fmt.Errorf("pki: unknown organisation role %q", opt.Role)
		}
		users = []asn1.ObjectIdentifier{signing.OIDKeyUserOrganization, roleOID}
	}
	tmpl.UnknownExtKeyUsage = users
	switch opt.Kind {
	case KindSign, KindOrg:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
		policy := signing.OIDPolicyIndividualSign
		if len(users) > 1 {
			policy = signing.OIDPolicyOrganizationSign
		}
		tmpl.Policies = []x509.OID{mustOID(policy)}
	case KindAuth:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		tmpl.Policies = []x509.OID{mustOID(signing.OIDPolicyAuth)}
	default:
		return nil, nil, fmt.Errorf("pki: unknown kind %q", opt.Kind)
	}
	return tmpl, key, nil
}

// index is the authority's record of what it issued and revoked.
type index struct {
	CRLNumber int64        `json:"crlNumber"`
	Issued    []indexEntry `json:"issued"`
}

type indexEntry struct {
	Serial     string    `json:"serial"` // decimal
	Subject    string    `json:"subject"`
	NotAfter   time.Time `json:"notAfter"`
	RevokedAt  time.Time `json:"revokedAt,omitzero"`
	RevokeCode int       `json:"reason,omitempty"`
}

func (a *Authority) loadIndex() (*index, error) {
	data, err := os.ReadFile(filepath.Join(a.Dir, indexFile))
	if err != nil {
		return nil, err
	}
	var idx index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("pki: %s: %w", indexFile, err)
	}
	return &idx, nil
}

func (a *Authority) saveIndex(idx *index) error {
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(a.Dir, indexFile+".*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(a.Dir, indexFile))
}

// lock guards a load-modify-save of the index: within this process (mu)
// and against other processes sharing the directory (lockFile).
func (a *Authority) lock() (unlock func(), err error) {
	a.mu.Lock()
	release, err := lockFile(a.Dir)
	if err != nil {
		a.mu.Unlock()
		return nil, fmt.Errorf("pki: locking %s: %w", indexFile, err)
	}
	return func() { release(); a.mu.Unlock() }, nil
}

func (a *Authority) record(cert *x509.Certificate) error {
	unlock, err := a.lock()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := a.loadIndex()
	if err != nil {
		return err
	}
	idx.Issued = append(idx.Issued, indexEntry{
		Serial:   cert.SerialNumber.String(),
		Subject:  cert.Subject.CommonName,
		NotAfter: cert.NotAfter,
	})
	return a.saveIndex(idx)
}

// ErrNotIssued is returned for a certificate this authority never issued.
var ErrNotIssued = errors.New("pki: certificate was not issued by this authority")

// Revoke marks a certificate revoked at the given time with an RFC 5280
// reason code (1 = key compromise).
func (a *Authority) Revoke(cert *x509.Certificate, at time.Time, reason int) error {
	unlock, err := a.lock()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := a.loadIndex()
	if err != nil {
		return err
	}
	for i := range idx.Issued {
		if idx.Issued[i].Serial == cert.SerialNumber.String() {
			idx.Issued[i].RevokedAt = at.UTC().Truncate(time.Second)
			idx.Issued[i].RevokeCode = reason
			return a.saveIndex(idx)
		}
	}
	return ErrNotIssued
}

// CRL returns a DER certificate revocation list signed by the issuing CA,
// valid from thisUpdate until nextUpdate.
func (a *Authority) CRL(thisUpdate, nextUpdate time.Time) ([]byte, error) {
	unlock, err := a.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	idx, err := a.loadIndex()
	if err != nil {
		return nil, err
	}
	idx.CRLNumber++
	var entries []x509.RevocationListEntry
	for _, e := range idx.Issued {
		if e.RevokedAt.IsZero() {
			continue
		}
		serial, _ := new(big.Int).SetString(e.Serial, 10)
		entries = append(entries, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: e.RevokedAt, ReasonCode: e.RevokeCode})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(idx.CRLNumber),
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: entries,
	}, a.CA, a.caKey)
	if err != nil {
		return nil, err
	}
	return der, a.saveIndex(idx)
}

// status answers about one serial: issued and good, issued and revoked, or
// unknown to this authority.
//
// It reads without the cross-process lock: it is on the OCSP responder's
// path of every signature check, and saveIndex replaces the file by a
// rename, so a reader sees one whole index or the other.
func (a *Authority) status(serial *big.Int) (entry indexEntry, known bool, err error) {
	idx, err := a.loadIndex()
	if err != nil {
		return indexEntry{}, false, err
	}
	for _, e := range idx.Issued {
		if e.Serial == serial.String() {
			return e, true, nil
		}
	}
	return indexEntry{}, false, nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

func mustOID(o asn1.ObjectIdentifier) x509.OID {
	ints := make([]uint64, len(o))
	for i, v := range o {
		ints[i] = uint64(v)
	}
	oid, err := x509.OIDFromInts(ints)
	if err != nil {
		panic(err)
	}
	return oid
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func keyPEM(k crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// Clone copies an authority's directory (certificates, keys, index, trust
// directory, issued key files) to a new directory and opens the copy: a
// writable authority for tests that issue and revoke without touching the
// original, such as the committed fixtures/pki.
func Clone(from, to string) (*Authority, error) {
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o600)
	})
	if err != nil {
		return nil, fmt.Errorf("pki: clone: %w", err)
	}
	return Open(to)
}
