package signing

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/jonboulle/clockwork"
	dsig "github.com/russellhaering/goxmldsig"

	"egov"
)

// MinRSABits is the smallest RSA key accepted for a signature.
const MinRSABits = 2048

// Verifier checks signed XML documents the way condition C2 of the
// regulations demands. It is safe for concurrent use.
type Verifier struct {
	Trust      *TrustStore
	Revocation *Revocation
	Limits     Limits
	// Now is the verifier's clock; nil means time.Now. Tests inject a
	// fixed time so that expiry is tested without sleeping.
	Now func() time.Time
	// AllowAuthKeys accepts authentication keys (digitalSignature with
	// keyEncipherment) for signing, as the login-by-signature challenge
	// needs. Requests must be signed with a signing key.
	AllowAuthKeys bool
	// Uncached verifies every document from scratch, even one this
	// Verifier accepted a moment ago (see verdictCache).
	Uncached bool

	chains   chainCache
	verdicts verdictCache
}

// Evidence is what the verifier records about an accepted signature, so
// that the decision can be proven later without keeping the document.
type Evidence struct {
	CertificateSerial string           `json:"certificateSerial"`
	CertificateIssuer string           `json:"certificateIssuer"`
	Revocation        RevocationStatus `json:"revocation"`
	SignatureMethod   string           `json:"signatureMethod"`
	DigestMethod      string           `json:"digestMethod"`
	// SignedDigest is the base64 digest of the canonical signed bytes, as
	// the verified SignedInfo states it.
	SignedDigest string `json:"signedDigest"`
	// DocumentSHA256 is the hex SHA-256 of the document exactly as received.
	DocumentSHA256 string    `json:"documentSHA256"`
	VerifiedAt     time.Time `json:"verifiedAt"`
}

// Result is an accepted signature.
type Result struct {
	// Element is the signed content as goxmldsig rebuilt it from the bytes
	// whose digest it checked. Read business data from here and only here.
	Element     *etree.Element
	Signer      Identity
	Certificate *x509.Certificate
	Evidence    Evidence
}

// RequireIIN refuses with iin-mismatch unless the signer's certificate
// carries exactly this IIN.
func (r *Result) RequireIIN(iin string) error {
	if r.Signer.IIN != iin {
		return egov.Errorf(egov.CodeIINMismatch, "certificate IIN %s, expected %s", MaskIIN(r.Signer.IIN), MaskIIN(iin))
	}
	return nil
}

// RequireBIN refuses with bin-mismatch unless the signer's certificate
// carries exactly this BIN.
func (r *Result) RequireBIN(bin string) error {
	if r.Signer.BIN != bin {
		return egov.Errorf(egov.CodeBINMismatch, "certificate BIN %s, expected %s", MaskIIN(r.Signer.BIN), MaskIIN(bin))
	}
	return nil
}

// RequireAuthority refuses unless the signer acts for the organisation bin
// with the right to sign for it. The certificate must be an organisation
// certificate (key user organization) carrying exactly this BIN, else
// bin-mismatch; its holder must have one of roles, else
// signer-not-authorised. Empty roles means SigningRoles(). Only
// organisation roles (KeyUser.IsOrganizationRole) grant anything: individual
// or organization in roles admit no one.
func (r *Result) RequireAuthority(bin string, roles []KeyUser) error {
	if bin == "" {
		// An empty BIN would match a certificate that carries none.
		return egov.Errorf(egov.CodeBINMismatch, "no BIN to require")
	}
	if !r.Signer.HasKeyUser(KeyUserOrganization) {
		return egov.Errorf(egov.CodeBINMismatch, "not an organisation certificate (key users %v), expected BIN %s", r.Signer.KeyUsers, MaskIIN(bin))
	}
	if err := r.RequireBIN(bin); err != nil {
		return err
	}
	if len(roles) == 0 {
		roles = signingRoles
	}
	for _, role := range roles {
		if role.IsOrganizationRole() && r.Signer.HasKeyUser(role) {
			return nil
		}
	}
	return egov.Errorf(egov.CodeSignerNotAuthorised, "holder's key users %v include none of %v", r.Signer.KeyUsers, roles)
}

// Verify runs the whole check on a document exactly as received (never
// re-indented or normalised: that breaks signatures) and returns the
// verified element, or an *egov.Error with the refusal code. The order is
// that of research/signing.md §7: cheap structural refusals first, then the
// certificate (chain, validity, key usage, revocation), then goxmldsig with
// a store pinned to that one certificate.
//
// Every call is counted in egov_signing_verifications_total by result
// (Collectors).
func (v *Verifier) Verify(ctx context.Context, doc []byte) (*Result, error) {
	res, err := v.verify(ctx, doc)
	countVerification(err)
	return res, err
}

func (v *Verifier) verify(ctx context.Context, doc []byte) (*Result, error) {
	now := v.now()
	sum := sha256.Sum256(doc)
	if !v.Uncached {
		if seen, ok := v.verdicts.get(sum); ok {
			chain, err := v.certificate(ctx, seen.shape, now)
			if err != nil {
				return nil, err
			}
			return v.result(detachedCopy(seen.element), seen.shape, chain, sum, now), nil
		}
	}
	tree, err := parseScreened(doc, v.Limits.withDefaults())
	if err != nil {
		return nil, err
	}
	root := tree.Root()
	shape, err := checkShape(root)
	if err != nil {
		return nil, err
	}
	chain, err := v.certificate(ctx, shape, now)
	if err != nil {
		return nil, err
	}

	vctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{chain.leaf}})
	vctx.Clock = dsig.NewFakeClock(clockwork.NewFakeClockAt(now))
	verified, err := vctx.Validate(root)
	if err != nil {
		return nil, egov.Errorf(egov.CodeSignatureInvalid, "%v", err)
	}
	if !v.Uncached {
		v.verdicts.put(sum, len(doc), &verdict{shape: shape, element: verified})
		verified = detachedCopy(verified)
	}
	return v.result(verified, shape, chain, sum, now), nil
}

func (v *Verifier) result(verified *etree.Element, shape signatureShape, chain *checkedChain, sum [32]byte, now time.Time) *Result {
	return &Result{
		Element:     verified,
		Signer:      chain.identity,
		Certificate: chain.leaf,
		Evidence: Evidence{
			CertificateSerial: chain.identity.Serial,
			CertificateIssuer: chain.identity.Issuer,
			Revocation:        chain.revocation,
			SignatureMethod:   shape.method,
			DigestMethod:      shape.digestMethod,
			SignedDigest:      shape.digestValue,
			DocumentSHA256:    hex.EncodeToString(sum[:]),
			VerifiedAt:        now,
		},
	}
}

// checkedChain is the verdict on one signer certificate.
type checkedChain struct {
	leaf       *x509.Certificate
	issuer     *x509.Certificate
	identity   Identity
	validFrom  time.Time // latest NotBefore in the chain
	validUntil time.Time // earliest NotAfter in the chain
	revocation RevocationStatus
}

// certificate decides whether the signer's certificate may sign: parse,
// algorithm and key size, validity at now, chain to the trust store, key
// usage, revocation. The chain verdict is cached per certificate for as long
// as every certificate of the chain is valid, so a citizen's second request
// costs no RSA operation for the chain; revocation answers come from their
// own caches (OCSP until nextUpdate, CRL lists in memory).
func (v *Verifier) certificate(ctx context.Context, shape signatureShape, now time.Time) (*checkedChain, error) {
	key := sha256.Sum256(shape.leaf)
	c, ok := v.chains.get(key)
	if !ok || now.Before(c.validFrom) || now.After(c.validUntil) {
		var err error
		c, err = v.buildChain(shape, now)
		if err != nil {
			return nil, err
		}
		v.chains.put(key, c)
	}
	if v.Revocation == nil {
		return nil, egov.Errorf(egov.CodeRevocationUnknown, "no revocation policy configured")
	}
	st, err := v.Revocation.Check(ctx, c.leaf, c.issuer, now)
	if err != nil {
		return nil, err
	}
	out := *c
	out.revocation = st
	return &out, nil
}

func (v *Verifier) buildChain(shape signatureShape, now time.Time) (*checkedChain, error) {
	leaf, err := x509.ParseCertificate(shape.leaf)
	if err != nil {
		return nil, egov.Errorf(egov.CodeCertificateMalformed, "%v", err)
	}
	if IsGOST(leaf) {
		return nil, egov.Errorf(egov.CodeAlgorithmGOST, "GOST certificate %s", leaf.Issuer.CommonName)
	}
	pub, ok := leaf.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, egov.Errorf(egov.CodeAlgorithmForbidden, "%s key, only RSA is accepted", leaf.PublicKeyAlgorithm)
	}
	if pub.N.BitLen() < MinRSABits {
		return nil, egov.Errorf(egov.CodeKeyTooWeak, "RSA %d bits", pub.N.BitLen())
	}
	if now.Before(leaf.NotBefore) {
		return nil, egov.Errorf(egov.CodeCertificateNotYetValid, "valid from %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(leaf.NotAfter) {
		return nil, egov.Errorf(egov.CodeCertificateExpired, "expired %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if v.Trust == nil {
		return nil, egov.Errorf(egov.CodeCertificateUntrusted, "no trust store configured")
	}
	// Intermediates come from the trust store only: KeyInfo holds the
	// signer's certificate and nothing else (checkOutline).
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         v.Trust.Roots,
		Intermediates: v.Trust.Intermediates,
		CurrentTime:   now,
		// NCA signing keys carry emailProtection, not serverAuth (the
		// default); key usage is judged below.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		var invalid x509.CertificateInvalidError
		if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
			return nil, egov.Errorf(egov.CodeCertificateExpired, "chain: %v", err)
		}
		return nil, egov.Errorf(egov.CodeCertificateUntrusted, "%v", err)
	}
	if err := v.checkKeyUsage(leaf); err != nil {
		return nil, err
	}
	chain := chains[0]
	c := &checkedChain{leaf: leaf, issuer: chain[1], identity: IdentityOf(leaf), validFrom: leaf.NotBefore, validUntil: leaf.NotAfter}
	for _, ca := range chain[1:] {
		if ca.NotBefore.After(c.validFrom) {
			c.validFrom = ca.NotBefore
		}
		if ca.NotAfter.Before(c.validUntil) {
			c.validUntil = ca.NotAfter
		}
	}
	return c, nil
}

// checkKeyUsage accepts a key meant for signing: digitalSignature with
// nonRepudiation, and not an authentication-only extended key usage.
func (v *Verifier) checkKeyUsage(leaf *x509.Certificate) error {
	switch PurposeOf(leaf) {
	case PurposeSign:
	case PurposeAuth:
		if !v.AllowAuthKeys {
			return egov.Errorf(egov.CodeKeyUsageInvalid, "authentication key (digitalSignature+keyEncipherment)")
		}
	default:
		return egov.Errorf(egov.CodeKeyUsageInvalid, "key usage %b allows no signing", leaf.KeyUsage)
	}
	if len(leaf.ExtKeyUsage) > 0 && hasExtKeyUsage(leaf, x509.ExtKeyUsageClientAuth) &&
		!hasExtKeyUsage(leaf, x509.ExtKeyUsageEmailProtection) && !v.AllowAuthKeys {
		return egov.Errorf(egov.CodeKeyUsageInvalid, "extended key usage is client authentication only")
	}
	return nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// chainCache keeps chain verdicts by certificate digest. It is bounded:
// when full it starts over, which costs a chain verification, never a
// wrong answer.
type chainCache struct {
	mu sync.RWMutex
	m  map[[32]byte]*checkedChain
}

const maxChainCache = 100_000

func (c *chainCache) get(k [32]byte) (*checkedChain, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *chainCache) put(k [32]byte, v *checkedChain) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxChainCache {
		c.m = make(map[[32]byte]*checkedChain)
	}
	c.m[k] = v
}
