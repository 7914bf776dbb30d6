package signing

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"software.sslmate.com/src/go-pkcs12"
)

// Signer signs documents the way citizens' and providers' tools do:
// enveloped XMLDSig over the whole document (URI=""), exclusive
// canonicalization, rsa-sha256, a sha256 digest, and the signer's
// certificate in KeyInfo.
type Signer struct {
	Key         crypto.Signer
	Certificate *x509.Certificate
}

// ErrAlreadySigned is returned when asked to sign a document that already
// carries a signature: the verifier accepts exactly one.
var ErrAlreadySigned = errors.New("document is already signed")

// Sign returns doc with an enveloped signature appended to its root. The
// rest of the document is written back as parsed; the prolog is kept.
func (s *Signer) Sign(doc []byte) ([]byte, error) {
	tree := etree.NewDocument()
	if err := tree.ReadFromBytes(doc); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	root := tree.Root()
	if root == nil {
		return nil, errors.New("sign: no root element")
	}
	signed, err := s.SignElement(root)
	if err != nil {
		return nil, err
	}
	tree.SetRoot(signed)
	tree.WriteSettings.CanonicalEndTags = false
	return tree.WriteToBytes()
}

// SignElement returns a copy of el with an enveloped signature as its last
// child.
func (s *Signer) SignElement(el *etree.Element) (*etree.Element, error) {
	var found bool
	walk(el, func(e *etree.Element) {
		if e.Tag == dsig.SignatureTag && e.NamespaceURI() == dsig.Namespace {
			found = true
		}
	})
	if found {
		return nil, ErrAlreadySigned
	}
	ctx, err := dsig.NewSigningContext(s.Key, [][]byte{s.Certificate.Raw})
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	ctx.Hash = crypto.SHA256
	// The signature must cover the whole document whatever attributes the
	// root has, so no attribute may be taken for an ID.
	ctx.IdAttribute = "\x00none"
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return signed, nil
}

// LoadSigner reads a signing key and its certificate: a PKCS#12 file
// (.p12, .pfx) opened with password, or a PEM pair given by the path of
// either file of PREFIX.crt and PREFIX.key.
func LoadSigner(path, password string) (*Signer, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".p12", ".pfx":
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return ParsePKCS12(data, password)
	}
	prefix := strings.TrimSuffix(path, filepath.Ext(path))
	certPEM, err := os.ReadFile(prefix + ".crt")
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(prefix + ".key")
	if err != nil {
		return nil, err
	}
	return ParsePEM(certPEM, keyPEM)
}

// ParsePKCS12 opens a PKCS#12 key store.
func ParsePKCS12(data []byte, password string) (*Signer, error) {
	key, cert, _, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return nil, fmt.Errorf("pkcs12: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("pkcs12: key cannot sign")
	}
	return &Signer{Key: signer, Certificate: cert}, nil
}

// ParsePEM reads a certificate and an unencrypted PKCS#8 or PKCS#1 key.
func ParsePEM(certPEM, keyPEM []byte) (*Signer, error) {
	certs, err := ParseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("key: no PEM block")
	}
	var key any
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("key cannot sign")
	}
	if pub, ok := signer.Public().(*rsa.PublicKey); ok {
		if cp, ok := certs[0].PublicKey.(*rsa.PublicKey); !ok || !cp.Equal(pub) {
			return nil, errors.New("key does not match the certificate")
		}
	}
	return &Signer{Key: signer, Certificate: certs[0]}, nil
}
