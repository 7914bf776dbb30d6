package signing

import (
	"encoding/base64"
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
	leaf         []byte   // DER of the first X509Certificate in KeyInfo
	extra        [][]byte // further certificates in KeyInfo, candidates for the chain
	method       string   // SignatureMethod
	digestMethod string
	digestValue  string
}

// checkShape enforces the shape of an acceptable signature before any
// cryptography runs: exactly one ds:Signature in the whole document, a
// direct child of the root; exactly one SignedInfo, SignatureValue and
// Reference; the Reference covers the whole document (URI=""); transforms
// are the enveloped transform and at most one canonicalization; every
// algorithm is on the allow-list; KeyInfo carries the signer's certificate.
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

	keyInfos := dsigChildren(sig, dsig.KeyInfoTag)
	if len(keyInfos) != 1 {
		return shape, egov.Errorf(egov.CodeCertificateMalformed, "signature must carry exactly one KeyInfo")
	}
	var certs []*etree.Element
	for _, x509Data := range dsigChildren(keyInfos[0], dsig.X509DataTag) {
		certs = append(certs, dsigChildren(x509Data, dsig.X509CertificateTag)...)
	}
	if len(certs) == 0 {
		return shape, egov.Errorf(egov.CodeCertificateMalformed, "KeyInfo carries no X509Certificate")
	}
	for i, c := range certs {
		der, err := base64.StdEncoding.DecodeString(stripSpace(c.Text()))
		if err != nil || len(der) == 0 {
			return shape, egov.Errorf(egov.CodeCertificateMalformed, "X509Certificate is not base64")
		}
		if i == 0 {
			shape.leaf = der
		} else {
			shape.extra = append(shape.extra, der)
		}
	}
	return shape, nil
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
