package signing

import (
	"encoding/base64"
	"slices"
	"strings"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"egov"
)

// Algorithm identifiers the verifier accepts. goxmldsig itself would also
// accept SHA-1 and ECDSA; the allow-list is ours.
var (
	allowedSignatureMethods = map[string]bool{
		dsig.RSASHA256SignatureMethod: true,
		dsig.RSASHA384SignatureMethod: true,
		dsig.RSASHA512SignatureMethod: true,
	}
	allowedDigestMethods = map[string]bool{
		"http://www.w3.org/2001/04/xmlenc#sha256":       true,
		"http://www.w3.org/2001/04/xmldsig-more#sha384": true,
		"http://www.w3.org/2001/04/xmlenc#sha512":       true,
	}
	allowedCanonicalizations = map[string]bool{
		dsig.CanonicalXML10ExclusiveAlgorithmId.String():             true,
		dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId.String(): true,
		dsig.CanonicalXML10RecAlgorithmId.String():                   true,
		dsig.CanonicalXML10WithCommentsAlgorithmId.String():          true,
		dsig.CanonicalXML11AlgorithmId.String():                      true,
		dsig.CanonicalXML11WithCommentsAlgorithmId.String():          true,
	}
)

// isGOSTAlgorithm recognises the NCA's GOST algorithm URIs (GOST 34.310 and
// GOST 34.10-2015 in the pkigovkz namespace).
func isGOSTAlgorithm(uri string) bool {
	u := strings.ToLower(uri)
	return strings.Contains(u, "gost")
}

// signatureShape is what the structural check learnt about the one
// signature of a document.
type signatureShape struct {
	leaf         []byte // DER of the one X509Certificate in KeyInfo
	method       string // SignatureMethod
	digestMethod string
	digestValue  string
}

// checkShape enforces the shape of an acceptable signature before any
// cryptography runs: exactly one ds:Signature in the whole document, a
// direct child of the root; inside it nothing but SignedInfo,
// SignatureValue and KeyInfo, KeyInfo holding one X509Data holding one
// X509Certificate (see checkOutline); exactly one Reference, covering the
// whole document (URI=""); transforms are the enveloped transform and at
// most one canonicalization; every algorithm is on the allow-list; KeyInfo
// carries the signer's certificate.
func checkShape(root *etree.Element) (signatureShape, error) {
	var sigs []*etree.Element
	walk(root, func(el *etree.Element) {
		if el.Tag == dsig.SignatureTag && el.NamespaceURI() == dsig.Namespace {
			sigs = append(sigs, el)
		}
	})
	switch {
	case len(sigs) == 0:
		return signatureShape{}, egov.Errorf(egov.CodeSignatureMissing, "no ds:Signature element")
	case len(sigs) > 1:
		return signatureShape{}, egov.Errorf(egov.CodeSignatureMultiple, "%d ds:Signature elements", len(sigs))
	case sigs[0].Parent() != root:
		return signatureShape{}, egov.Errorf(egov.CodeSignatureMisplaced, "ds:Signature is not a direct child of the root")
	}
	sig := sigs[0]
	if err := checkOutline(sig); err != nil {
		return signatureShape{}, err
	}

	signedInfo, err := onlyChild(sig, dsig.SignedInfoTag, egov.CodeSignatureInvalid)
	if err != nil {
		return signatureShape{}, err
	}
	if _, err := onlyChild(sig, dsig.SignatureValueTag, egov.CodeSignatureInvalid); err != nil {
		return signatureShape{}, err
	}
	var shape signatureShape

	c14n, err := onlyChild(signedInfo, dsig.CanonicalizationMethodTag, egov.CodeSignatureInvalid)
	if err != nil {
		return shape, err
	}
	if alg := c14n.SelectAttrValue(dsig.AlgorithmAttr, ""); !allowedCanonicalizations[alg] {
		return shape, egov.Errorf(egov.CodeAlgorithmForbidden, "canonicalization %q", alg)
	}
	method, err := onlyChild(signedInfo, dsig.SignatureMethodTag, egov.CodeSignatureInvalid)
	if err != nil {
		return shape, err
	}
	shape.method = method.SelectAttrValue(dsig.AlgorithmAttr, "")
	if isGOSTAlgorithm(shape.method) {
		return shape, egov.Errorf(egov.CodeAlgorithmGOST, "signature method %q", shape.method)
	}
	if !allowedSignatureMethods[shape.method] {
		return shape, egov.Errorf(egov.CodeAlgorithmForbidden, "signature method %q", shape.method)
	}

	refs := dsigChildren(signedInfo, dsig.ReferenceTag)
	if len(refs) != 1 {
		return shape, egov.Errorf(egov.CodeReferenceInvalid, "%d references, exactly one is allowed", len(refs))
	}
	ref := refs[0]
	if uri := ref.SelectAttr(dsig.URIAttr); uri == nil || uri.Value != "" {
		return shape, egov.Errorf(egov.CodeReferenceInvalid, "reference must be URI=\"\" (the whole document)")
	}
	if err := checkTransforms(ref); err != nil {
		return shape, err
	}
	dm, err := onlyChild(ref, dsig.DigestMethodTag, egov.CodeSignatureInvalid)
	if err != nil {
		return shape, err
	}
	shape.digestMethod = dm.SelectAttrValue(dsig.AlgorithmAttr, "")
	if isGOSTAlgorithm(shape.digestMethod) {
		return shape, egov.Errorf(egov.CodeAlgorithmGOST, "digest method %q", shape.digestMethod)
	}
	if !allowedDigestMethods[shape.digestMethod] {
		return shape, egov.Errorf(egov.CodeAlgorithmForbidden, "digest method %q", shape.digestMethod)
	}
	dv, err := onlyChild(ref, dsig.DigestValueTag, egov.CodeSignatureInvalid)
	if err != nil {
		return shape, err
	}
	shape.digestValue = strings.TrimSpace(dv.Text())

	// checkOutline has let at most one KeyInfo, X509Data and X509Certificate
	// through; what is still missing here is a missing certificate.
	keyInfo := firstChild(sig, dsig.KeyInfoTag)
	if keyInfo == nil {
		return shape, egov.Errorf(egov.CodeCertificateMalformed, "signature carries no KeyInfo")
	}
	cert := firstChild(firstChild(keyInfo, dsig.X509DataTag), dsig.X509CertificateTag)
	if cert == nil {
		return shape, egov.Errorf(egov.CodeCertificateMalformed, "KeyInfo carries no X509Certificate")
	}
	der, err := base64.StdEncoding.DecodeString(stripSpace(cert.Text()))
	if err != nil || len(der) == 0 {
		return shape, egov.Errorf(egov.CodeCertificateMalformed, "X509Certificate is not base64")
	}
	shape.leaf = der
	return shape, nil
}

// The children ds:Signature, KeyInfo and X509Data may have, in the one
// order accepted. Everything the verifier does not read must not be there:
// content outside SignedInfo is covered by no digest, so a ds:Object, a
// foreign element or a second request inside the signature would travel
// with the document as if it were signed, for a later reader to find.
var (
	signatureOutline = []string{dsig.SignedInfoTag, dsig.SignatureValueTag, dsig.KeyInfoTag}
	keyInfoOutline   = []string{dsig.X509DataTag}
	x509DataOutline  = []string{dsig.X509CertificateTag}
)

// checkOutline refuses with signature-shape-invalid anything inside the
// signature beyond SignedInfo, SignatureValue and KeyInfo (each at most
// once, in that order, whitespace only between them), KeyInfo beyond one
// X509Data, X509Data beyond one X509Certificate, and X509Certificate with
// anything but text. It visits each child of those four elements once.
//
// A part that is missing is not its concern: the check that needs the part
// refuses with the code it always had (no SignedInfo or SignatureValue is
// signature-invalid, no KeyInfo or certificate certificate-malformed). What
// is there and should not be is judged first, so a signature with a
// ds:Object and no certificate is refused for its shape.
func checkOutline(sig *etree.Element) error {
	if err := checkChildren(sig, signatureOutline); err != nil {
		return err
	}
	keyInfo := firstChild(sig, dsig.KeyInfoTag)
	if keyInfo == nil {
		return nil
	}
	if err := checkChildren(keyInfo, keyInfoOutline); err != nil {
		return err
	}
	x509Data := firstChild(keyInfo, dsig.X509DataTag)
	if x509Data == nil {
		return nil
	}
	if err := checkChildren(x509Data, x509DataOutline); err != nil {
		return err
	}
	if cert := firstChild(x509Data, dsig.X509CertificateTag); cert != nil && len(cert.ChildElements()) > 0 {
		return egov.Errorf(egov.CodeSignatureShape, "X509Certificate holds elements, only base64 text is allowed")
	}
	return nil
}

// checkChildren accepts as children of parent only XMLDSig elements named
// in outline, each at most once and in outline's order, with nothing but
// whitespace between them.
func checkChildren(parent *etree.Element, outline []string) error {
	next := 0 // index in outline of the first part still allowed
	for _, tok := range parent.Child {
		switch t := tok.(type) {
		case *etree.CharData:
			if !t.IsWhitespace() {
				return egov.Errorf(egov.CodeSignatureShape, "text inside %s", parent.Tag)
			}
		case *etree.Element:
			if t.NamespaceURI() != dsig.Namespace {
				return egov.Errorf(egov.CodeSignatureShape, "foreign element %s inside %s", t.FullTag(), parent.Tag)
			}
			at := slices.Index(outline, t.Tag)
			switch {
			case at < 0:
				return egov.Errorf(egov.CodeSignatureShape, "%s is not allowed inside %s", t.Tag, parent.Tag)
			case at < next:
				return egov.Errorf(egov.CodeSignatureShape, "%s repeated or out of order inside %s", t.Tag, parent.Tag)
			}
			next = at + 1
		default:
			// Comments and processing instructions were refused when the
			// document was screened; anything else is not a signature part.
			return egov.Errorf(egov.CodeSignatureShape, "unexpected content inside %s", parent.Tag)
		}
	}
	return nil
}

// firstChild returns parent's first XMLDSig child named tag, or nil (also
// for a nil parent).
func firstChild(parent *etree.Element, tag string) *etree.Element {
	if parent == nil {
		return nil
	}
	for _, c := range parent.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == dsig.Namespace {
			return c
		}
	}
	return nil
}

func checkTransforms(ref *etree.Element) error {
	transformsEls := dsigChildren(ref, dsig.TransformsTag)
	if len(transformsEls) != 1 {
		return egov.Errorf(egov.CodeAlgorithmForbidden, "reference must have one Transforms element")
	}
	transforms := dsigChildren(transformsEls[0], dsig.TransformTag)
	enveloped, c14n := 0, 0
	for _, t := range transforms {
		alg := t.SelectAttrValue(dsig.AlgorithmAttr, "")
		switch {
		case alg == dsig.EnvelopedSignatureAltorithmId.String():
			enveloped++
		case allowedCanonicalizations[alg]:
			c14n++
		default:
			return egov.Errorf(egov.CodeAlgorithmForbidden, "transform %q", alg)
		}
	}
	if enveloped != 1 || c14n > 1 || len(transforms) != enveloped+c14n {
		return egov.Errorf(egov.CodeAlgorithmForbidden, "transforms must be enveloped-signature and at most one canonicalization")
	}
	return nil
}

func onlyChild(parent *etree.Element, tag string, code egov.Code) (*etree.Element, error) {
	els := dsigChildren(parent, tag)
	if len(els) != 1 {
		return nil, egov.Errorf(code, "%s must have exactly one %s, has %d", parent.Tag, tag, len(els))
	}
	return els[0], nil
}

func dsigChildren(parent *etree.Element, tag string) []*etree.Element {
	var out []*etree.Element
	for _, c := range parent.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == dsig.Namespace {
			out = append(out, c)
		}
	}
	return out
}

func walk(el *etree.Element, fn func(*etree.Element)) {
	fn(el)
	for _, c := range el.ChildElements() {
		walk(c, fn)
	}
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
}
