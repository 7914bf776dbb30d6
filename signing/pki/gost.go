package pki

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
)

// GOST 34.10-2015 (512) identifiers as the NCA uses them.
var (
	oidGOST2015Key       = asn1.ObjectIdentifier{1, 2, 398, 3, 10, 1, 1, 2, 2}
	oidGOST2015KeyParams = asn1.ObjectIdentifier{1, 2, 398, 3, 10, 1, 1, 2, 2, 1}
	oidGOST2015Sig       = asn1.ObjectIdentifier{1, 2, 398, 3, 10, 1, 1, 2, 3, 2}
)

// IssueGOSTLookalike returns a certificate shaped like an NCA GOST 34.10-2015
// citizen certificate: the subject, extensions and issuer of a real one,
// a GOST key algorithm and a GOST signature algorithm. Go cannot produce
// GOST signatures, so its key and signature bytes are random: it exists to
// be recognised and refused, never verified. Its serial is recorded like any
// other.
func (a *Authority) IssueGOSTLookalike(opt IssueOptions) (*x509.Certificate, error) {
	iss, err := a.Issue(opt)
	if err != nil {
		return nil, err
	}
	var cert struct {
		TBS    asn1.RawValue
		SigAlg asn1.RawValue
		Sig    asn1.BitString
	}
	if _, err := asn1.Unmarshal(iss.Certificate.Raw, &cert); err != nil {
		return nil, err
	}
	// TBSCertificate: version, serial, signature, issuer, validity,
	// subject, subjectPublicKeyInfo, extensions.
	var fields []asn1.RawValue
	for rest := cert.TBS.Bytes; len(rest) > 0; {
		var f asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &f); err != nil {
			return nil, err
		}
		fields = append(fields, f)
	}
	if len(fields) < 7 {
		return nil, errors.New("pki: unexpected TBSCertificate shape")
	}
	sigAlg, err := asn1.Marshal(struct{ Algorithm asn1.ObjectIdentifier }{oidGOST2015Sig})
	if err != nil {
		return nil, err
	}
	pub := make([]byte, 128)
	if _, err := rand.Read(pub); err != nil {
		return nil, err
	}
	spki, err := asn1.Marshal(struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.ObjectIdentifier
		}
		PublicKey asn1.BitString
	}{
		Algorithm: struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.ObjectIdentifier
		}{oidGOST2015Key, oidGOST2015KeyParams},
		PublicKey: asn1.BitString{Bytes: pub, BitLength: len(pub) * 8},
	})
	if err != nil {
		return nil, err
	}
	fields[2] = asn1.RawValue{FullBytes: sigAlg}
	fields[6] = asn1.RawValue{FullBytes: spki}
	var body []byte
	for _, f := range fields {
		body = append(body, f.FullBytes...)
	}
	tbs, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	if err != nil {
		return nil, err
	}
	sig := make([]byte, 128)
	if _, err := rand.Read(sig); err != nil {
		return nil, err
	}
	der, err := asn1.Marshal(struct {
		TBS    asn1.RawValue
		SigAlg asn1.RawValue
		Sig    asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, asn1.RawValue{FullBytes: sigAlg}, asn1.BitString{Bytes: sig, BitLength: len(sig) * 8}})
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: GOST lookalike does not parse: %w", err)
	}
	return c, nil
}
