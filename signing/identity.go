package signing

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// KeyUser is the holder role that the NCA encodes as an extended key usage
// under the arc 1.2.398.3.3.4.
type KeyUser string

const (
	KeyUserIndividual       KeyUser = "individual"
	KeyUserOrganization     KeyUser = "organization"
	KeyUserCEO              KeyUser = "ceo"
	KeyUserCanSign          KeyUser = "can-sign"
	KeyUserCanSignFinancial KeyUser = "can-sign-financial"
	KeyUserHR               KeyUser = "hr"
	KeyUserEmployee         KeyUser = "employee"
)

// signingRoles are the organisation roles that may sign for it unless a
// policy says otherwise.
var signingRoles = []KeyUser{KeyUserCEO, KeyUserCanSign}

// SigningRoles returns the roles entitled by default to sign for an
// organisation: its first head (KeyUserCEO, 1.2.398.3.3.4.1.2.1) and a
// person with signing right (KeyUserCanSign, 1.2.398.3.3.4.1.2.2). The
// slice is the caller's own.
func SigningRoles() []KeyUser { return slices.Clone(signingRoles) }

// IsOrganizationRole reports whether u is a role of a person acting for an
// organisation (ceo, can-sign, can-sign-financial, hr, employee): what the
// holder may do for it. individual and organization are not roles; they say
// whom the certificate was issued to.
func (u KeyUser) IsOrganizationRole() bool {
	switch u {
	case KeyUserCEO, KeyUserCanSign, KeyUserCanSignFinancial, KeyUserHR, KeyUserEmployee:
		return true
	}
	return false
}

// OIDs of the NCA key users, of the certificate subject attributes Go does
// not name, and of the NCA certificate policies.
var (
	OIDKeyUserIndividual       = asn1.ObjectIdentifier{1, 2, 398, 3, 3, 4, 1, 1}
	OIDKeyUserOrganization     = asn1.ObjectIdentifier{1, 2, 398, 3, 3, 4, 1, 2}
	OIDKeyUserCEO              = asn1.ObjectIdentifier{1, 2, 398, 3, 3, 4, 1, 2, 1}
	OIDKeyUserCanSign          = asn1.ObjectIdentifier{1, 2, 398, 3, 3, 4, 1, 2, 2}
	OIDKeyUserCanSignFinancial = asn1.ObjectIdentifier{1, 2, 398, 3, 3, 4, 1, 2, 3}
	OIDKeyUserHR               = asn1.ObjectIdentifier{1, 2, 398, 3, 3, 4, 1, 2, 4}
	OIDKeyUserEmployee         = asn1.ObjectIdentifier{1, 2, 398, 3, 3, 4, 1, 2, 5}

	OIDSurname   = asn1.ObjectIdentifier{2, 5, 4, 4}
	OIDGivenName = asn1.ObjectIdentifier{2, 5, 4, 42}

	OIDPolicyCA               = asn1.ObjectIdentifier{1, 2, 398, 3, 3, 1, 1}
	OIDPolicyOrganizationSign = asn1.ObjectIdentifier{1, 2, 398, 3, 3, 2, 1}
	OIDPolicyIndividualSign   = asn1.ObjectIdentifier{1, 2, 398, 3, 3, 2, 3}
	OIDPolicyAuth             = asn1.ObjectIdentifier{1, 2, 398, 3, 3, 2, 4}

	// oidGOSTArc is the Kazakh national cryptography arc (GOST 34.310-2004,
	// GOST 34.10-2015 keys and signatures).
	oidGOSTArc = asn1.ObjectIdentifier{1, 2, 398, 3, 10}
)

var keyUserOIDs = []struct {
	oid  asn1.ObjectIdentifier
	user KeyUser
}{
	{OIDKeyUserIndividual, KeyUserIndividual},
	{OIDKeyUserOrganization, KeyUserOrganization},
	{OIDKeyUserCEO, KeyUserCEO},
	{OIDKeyUserCanSign, KeyUserCanSign},
	{OIDKeyUserCanSignFinancial, KeyUserCanSignFinancial},
	{OIDKeyUserHR, KeyUserHR},
	{OIDKeyUserEmployee, KeyUserEmployee},
}

// OIDOfKeyUser returns the extended key usage OID of a key user.
func OIDOfKeyUser(u KeyUser) (asn1.ObjectIdentifier, bool) {
	for _, k := range keyUserOIDs {
		if k.user == u {
			return k.oid, true
		}
	}
	return nil, false
}

// KeyPurpose says whether an NCA key is meant for signing documents or for
// authentication, read from the certificate's key usage bits the way the
// NCA's own tools read them.
type KeyPurpose string

const (
	PurposeSign    KeyPurpose = "sign"
	PurposeAuth    KeyPurpose = "auth"
	PurposeUnknown KeyPurpose = "unknown"
)

// PurposeOf classifies a certificate: digitalSignature with nonRepudiation
// is a signing key, digitalSignature with keyEncipherment an
// authentication key.
func PurposeOf(cert *x509.Certificate) KeyPurpose {
	ku := cert.KeyUsage
	switch {
	case ku&x509.KeyUsageDigitalSignature != 0 && ku&x509.KeyUsageContentCommitment != 0:
		return PurposeSign
	case ku&x509.KeyUsageDigitalSignature != 0 && ku&x509.KeyUsageKeyEncipherment != 0:
		return PurposeAuth
	default:
		return PurposeUnknown
	}
}

// Identity is who a certificate says its holder is.
type Identity struct {
	IIN          string     `json:"iin,omitempty"`
	BIN          string     `json:"bin,omitempty"`
	CommonName   string     `json:"name,omitempty"`
	Surname      string     `json:"surname,omitempty"`
	GivenName    string     `json:"givenName,omitempty"` // holds the patronymic in NCA certificates
	Organization string     `json:"organization,omitempty"`
	KeyUsers     []KeyUser  `json:"keyUser,omitempty"`
	Purpose      KeyPurpose `json:"keyPurpose"`
	Serial       string     `json:"serial"` // hex
	Issuer       string     `json:"issuer"`
	NotBefore    time.Time  `json:"notBefore"`
	NotAfter     time.Time  `json:"notAfter"`
}

// IdentityOf reads the holder's identity from an NCA-style certificate:
// IIN from SERIALNUMBER "IIN…", BIN from OU "BIN…", surname (2.5.4.4), given
// name (2.5.4.42), common name, and the key users. It does not judge the
// numbers' check digits; the verifier does.
func IdentityOf(cert *x509.Certificate) Identity {
	id := Identity{
		CommonName: cert.Subject.CommonName,
		Purpose:    PurposeOf(cert),
		Serial:     hex.EncodeToString(cert.SerialNumber.Bytes()),
		Issuer:     cert.Issuer.String(),
		NotBefore:  cert.NotBefore,
		NotAfter:   cert.NotAfter,
	}
	// Only a valid number is an identity: a certificate whose serialNumber
	// holds an IIN with a wrong check digit names nobody.
	if v, ok := strings.CutPrefix(cert.Subject.SerialNumber, "IIN"); ok {
		if _, err := ParseIIN(v); err == nil {
			id.IIN = v
		}
	}
	for _, ou := range cert.Subject.OrganizationalUnit {
		if v, ok := strings.CutPrefix(ou, "BIN"); ok {
			if _, err := ParseBIN(v); err == nil {
				id.BIN = v
			}
			break
		}
	}
	if len(cert.Subject.Organization) > 0 {
		id.Organization = cert.Subject.Organization[0]
	}
	for _, atv := range cert.Subject.Names {
		s, _ := atv.Value.(string)
		switch {
		case atv.Type.Equal(OIDSurname):
			id.Surname = s
		case atv.Type.Equal(OIDGivenName):
			id.GivenName = s
		}
	}
	for _, oid := range cert.UnknownExtKeyUsage {
		for _, k := range keyUserOIDs {
			if oid.Equal(k.oid) {
				id.KeyUsers = append(id.KeyUsers, k.user)
			}
		}
	}
	return id
}

// HasKeyUser reports whether the identity holds role u.
func (id Identity) HasKeyUser(u KeyUser) bool {
	for _, k := range id.KeyUsers {
		if k == u {
			return true
		}
	}
	return false
}

// IsGOST reports whether the certificate belongs to the NCA's GOST family:
// its key or its signature uses the Kazakh national algorithms, which the Go
// standard library parses but cannot verify.
func IsGOST(cert *x509.Certificate) bool {
	var outer struct {
		TBS      asn1.RawValue
		SigAlg   algorithmIdentifier
		SigValue asn1.BitString
	}
	if cert.PublicKeyAlgorithm != x509.UnknownPublicKeyAlgorithm &&
		cert.SignatureAlgorithm != x509.UnknownSignatureAlgorithm {
		return false
	}
	if _, err := asn1.Unmarshal(cert.Raw, &outer); err == nil && hasPrefix(outer.SigAlg.Algorithm, oidGOSTArc) {
		return true
	}
	var spki struct {
		Algorithm algorithmIdentifier
		Key       asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err == nil {
		return hasPrefix(spki.Algorithm.Algorithm, oidGOSTArc)
	}
	return false
}

func hasPrefix(oid, arc asn1.ObjectIdentifier) bool {
	return len(oid) >= len(arc) && oid[:len(arc)].Equal(arc)
}

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}
