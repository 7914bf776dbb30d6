package signing_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"egov"
	"egov/signing"
	"egov/signing/pki"
)

// go test ./signing -run TestGenerateFixtures -update
// regenerates fixtures/pki and fixtures/signing with fresh keys.
var update = flag.Bool("update", false, "regenerate fixtures/pki and fixtures/signing")

const (
	fixturesPKI     = "../fixtures/pki"
	fixturesSigning = "../fixtures/signing"
)

// Times of the committed test PKI. Tests of the corpus run at corpusTime.
var (
	corpusTime   = time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
	validFrom    = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	validUntil   = time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)
	revokedAt    = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	crlThis      = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	crlNext      = time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)
	expiredFrom  = time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC)
	expiredUntil = time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC)
	futureFrom   = time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	futureUntil  = time.Date(2041, 1, 1, 0, 0, 0, 0, time.UTC)
)

// manifestEntry describes one key of the committed test PKI.
type manifestEntry struct {
	Prefix   string `json:"prefix"` // relative to fixtures/pki
	IIN      string `json:"iin"`
	BIN      string `json:"bin,omitempty"`
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Password string `json:"password,omitempty"`
	Note     string `json:"note"`
}

func TestGenerateFixtures(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate the committed fixtures")
	}
	for _, d := range []string{fixturesPKI, fixturesSigning} {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := pki.Init(fixturesPKI, pki.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.Init(filepath.Join(fixturesPKI, "untrusted-ca"), pki.InitOptions{
		RootName: "UNTRUSTED ROOT (RSA) TEST", CAName: "UNTRUSTED ISSUING CA (RSA) TEST",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(fixturesPKI, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := map[string]manifestEntry{}
	issued := map[string]*pki.Issued{}
	issue := func(id string, a *pki.Authority, opt pki.IssueOptions, note string) {
		t.Helper()
		if opt.NotBefore.IsZero() {
			opt.NotBefore, opt.NotAfter = validFrom, validUntil
		}
		iss, err := a.Issue(opt)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		prefix := filepath.Join("keys", id)
		if err := a.Write(iss, filepath.Join(fixturesPKI, prefix), pki.DefaultPassword); err != nil {
			t.Fatal(err)
		}
		issued[id] = iss
		manifest[id] = manifestEntry{Prefix: prefix, IIN: opt.IIN, BIN: opt.BIN, Name: opt.Name, Kind: string(opt.Kind), Password: pki.DefaultPassword, Note: note}
	}
	issue("citizen", ca, pki.IssueOptions{IIN: "791028302728", Name: "ЖАҚСЫЛЫҚОВ АЙДОС СЕРІКҰЛЫ", Kind: pki.KindSign}, "valid signing key of an adult citizen")
	issue("citizen2", ca, pki.IssueOptions{IIN: "900101300811", Name: "ОМАРОВА ДИНАРА АСҚАРҚЫЗЫ", Kind: pki.KindSign}, "second valid citizen (IIN uses the second weight set)")
	issue("citizen-auth", ca, pki.IssueOptions{IIN: "791028302728", Name: "ЖАҚСЫЛЫҚОВ АЙДОС СЕРІКҰЛЫ", Kind: pki.KindAuth}, "authentication key only: may not sign requests")
	issue("expired", ca, pki.IssueOptions{IIN: "791028302728", Name: "ЖАҚСЫЛЫҚОВ АЙДОС", NotBefore: expiredFrom, NotAfter: expiredUntil}, "expired in 2021")
	issue("not-yet-valid", ca, pki.IssueOptions{IIN: "791028302728", Name: "ЖАҚСЫЛЫҚОВ АЙДОС", NotBefore: futureFrom, NotAfter: futureUntil}, "valid from 2040")
	issue("revoked", ca, pki.IssueOptions{IIN: "791028302728", Name: "ЖАҚСЫЛЫҚОВ АЙДОС"}, "revoked on 2026-03-01 (in crl.pem and the OCSP responder)")
	issue("weak-1024", ca, pki.IssueOptions{IIN: "791028302728", Name: "ЖАҚСЫЛЫҚОВ АЙДОС", Bits: 1024}, "RSA-1024 key: too weak")
	issue("untrusted", other, pki.IssueOptions{IIN: "791028302728", Name: "ЖАҚСЫЛЫҚОВ АЙДОС"}, "issued by a CA that is not in trust/")
	issue("provider", ca, pki.IssueOptions{IIN: "800515400122", Name: "СЕЙТҚАЛИЕВА ГҮЛНАР МАРАТҚЫЗЫ", Kind: pki.KindOrg, BIN: "940140000385",
		Organization: "КГУ «ЦЕНТР ЗАНЯТОСТИ НАСЕЛЕНИЯ» (TEST)", Role: signing.KeyUserCEO}, "provider's authorised person: organisation key of the employment centre (BIN 940140000385), CEO")
	if err := ca.Revoke(issued["revoked"].Certificate, revokedAt, 1); err != nil {
		t.Fatal(err)
	}
	crl, err := ca.CRL(crlThis, crlNext)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(fixturesPKI, "crl.pem"), pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl}))
	gost, err := ca.IssueGOSTLookalike(pki.IssueOptions{IIN: "791028302728", Name: "ЖАҚСЫЛЫҚОВ АЙДОС", NotBefore: validFrom, NotAfter: validUntil})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(fixturesPKI, "keys", "gost.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: gost.Raw}))
	manifest["gost"] = manifestEntry{Prefix: "keys/gost", IIN: "791028302728", Name: "ЖАҚСЫЛЫҚОВ АЙДОС", Kind: "gost", Note: "GOST 34.10-2015 lookalike certificate (no usable key): must be refused as GOST"}
	m, _ := json.MarshalIndent(manifest, "", "  ")
	writeFile(t, filepath.Join(fixturesPKI, "manifest.json"), append(m, '\n'))

	generateCorpus(t, issued, gost, ca.CA)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// requestXML is the unsigned request document of the corpus.
func requestXML(iin, surname, given string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<ServiceRequest xmlns="urn:egov-gateway:request:v1" version="1">
  <RequestId>6f1c2a8e-4b7d-4f3e-9a51-0c2d7e8b9f10</RequestId>
  <ServiceCode>job-seeker-registration</ServiceCode>
  <Region>almaty-city</Region>
  <IssuedAt>2026-06-01T11:00:00+05:00</IssuedAt>
  <Applicant>
    <IIN>` + iin + `</IIN>
    <Surname>` + surname + `</Surname>
    <GivenName>` + given + `</GivenName>
    <Phone>+77010000000</Phone>
  </Applicant>
  <Form>
    <Field name="education">higher</Field>
    <Field name="profession">Инженер-программист</Field>
  </Form>
  <Attachments>
    <Attachment kind="identity-document" fileName="udostoverenie.pdf" mimeType="application/pdf" size="48213" sha256="3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b"/>
  </Attachments>
</ServiceRequest>
`
}

type corpusCase struct {
	file, code, iin, note string
}

func generateCorpus(t *testing.T, keys map[string]*pki.Issued, gost, ca *x509.Certificate) {
	t.Helper()
	var cases []corpusCase
	add := func(file string, doc []byte, code, iin, note string) {
		writeFile(t, filepath.Join(fixturesSigning, file), doc)
		cases = append(cases, corpusCase{file, code, iin, note})
	}
	sign := func(key string, doc string) []byte {
		t.Helper()
		s := &signing.Signer{Key: keys[key].Key, Certificate: keys[key].Certificate}
		out, err := s.Sign([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	base := requestXML("791028302728", "ЖАҚСЫЛЫҚОВ", "АЙДОС")
	valid := sign("citizen", base)

	add("valid.xml", valid, "", "791028302728", "valid request of the citizen")
	add("valid-second-citizen.xml", sign("citizen2", requestXML("900101300811", "ОМАРОВА", "ДИНАРА")), "", "900101300811", "valid request, IIN with the second weight set")
	add("valid-provider.xml", sign("provider", `<?xml version="1.0" encoding="UTF-8"?>
<ServiceResult xmlns="urn:egov-gateway:result:v1">
  <RequestId>6f1c2a8e-4b7d-4f3e-9a51-0c2d7e8b9f10</RequestId>
  <Outcome>registered</Outcome>
  <ProviderBIN>940140000385</ProviderBIN>
</ServiceResult>
`), "", "800515400122", "result signed by the provider's authorised person (organisation key)")
	add("valid-crlf.xml", bytes.ReplaceAll(valid, []byte("\n"), []byte("\r\n")), "", "791028302728", "valid request whose line endings were rewritten to CRLF in transit: the parser normalises them")
	add("iin-mismatch.xml", valid, "iin-mismatch", "900101300811", "valid signature, but the session's IIN is another citizen's")

	add("tampered-iin.xml", bytes.Replace(valid, []byte("<IIN>791028302728</IIN>"), []byte("<IIN>900101300811</IIN>"), 1), "signature-invalid", "-", "IIN changed after signing")
	add("tampered-form.xml", bytes.Replace(valid, []byte(">higher<"), []byte(">none<"), 1), "signature-invalid", "-", "form field changed after signing")
	add("tampered-attachment-hash.xml", bytes.Replace(valid, []byte(`sha256="3a7b`), []byte(`sha256="0000`), 1), "signature-invalid", "-", "attachment digest changed after signing")
	add("cr-as-character-reference.xml", bytes.Replace(valid, []byte("</RequestId>\n"), []byte("</RequestId>&#13;\n"), 1), "signature-invalid", "-", "a carriage return added as &#13;: real content change")

	add("expired.xml", sign("expired", base), "certificate-expired", "-", "certificate expired in 2021")
	add("not-yet-valid.xml", sign("not-yet-valid", base), "certificate-not-yet-valid", "-", "certificate valid from 2040")
	add("revoked.xml", sign("revoked", base), "certificate-revoked", "-", "certificate revoked on 2026-03-01")
	add("auth-key.xml", sign("citizen-auth", base), "key-usage-invalid", "-", "signed with the authentication key")
	add("weak-1024.xml", sign("weak-1024", base), "key-too-weak", "-", "RSA-1024 key")
	add("untrusted-ca.xml", sign("untrusted", base), "certificate-untrusted", "-", "certificate from a CA outside the trust store")
	add("self-signed.xml", signSelfSigned(t, base), "certificate-untrusted", "-", "signed with a self-signed certificate")
	add("gost.xml", gostDocument(t, base, gost), "algorithm-gost-unsupported", "-", "GOST 34.10-2015 signature and certificate")
	add("gost-certificate-rsa-method.xml", swapCertificate(t, valid, gost.Raw), "algorithm-gost-unsupported", "-", "RSA signature method, GOST certificate in KeyInfo")

	add("sha1.xml", signWith(t, keys["citizen"], base, crypto.SHA1, dsig.RSASHA1SignatureMethod), "algorithm-forbidden", "-", "rsa-sha1 signature with sha1 digest")
	add("xpath-transform.xml", addTransform(t, valid, "http://www.w3.org/TR/1999/REC-xpath-19991116"), "algorithm-forbidden", "-", "an XPath transform in the reference")
	add("unsigned.xml", []byte(base), "signature-missing", "-", "no signature at all")
	add("two-signatures.xml", secondSignature(t, valid, keys["citizen2"]), "signature-multiple", "-", "a second enveloped signature inside the first one's scope")
	add("second-reference.xml", secondReference(t, valid), "reference-invalid", "-", "SignedInfo with two references")
	add("reference-to-id.xml", bytes.Replace(valid, []byte(`URI=""`), []byte(`URI="#req"`), 1), "reference-invalid", "-", "reference to an element id instead of the whole document")
	add("no-keyinfo.xml", removeKeyInfo(t, valid), "certificate-malformed", "-", "signature without the signer's certificate")

	add("signature-nested.xml", nestSignature(t, valid), "signature-misplaced", "-", "signature moved inside a child element")
	add("wrapping-moved.xml", wrapMoved(t, valid), "signature-invalid", "-", "signature wrapping: the signed request moved under an attacker's root")
	add("wrapping-duplicated.xml", wrapDuplicated(t, valid), "signature-invalid", "-", "signature wrapping: an attacker's applicant placed next to the signed one")
	add("comment-in-iin.xml", bytes.Replace(valid, []byte("<IIN>791028302728</IIN>"), []byte("<IIN>791028<!---->302728</IIN>"), 1), "xml-comment-forbidden", "-", "comment injected inside the IIN (invisible to exclusive c14n)")
	add("pi-injected.xml", bytes.Replace(valid, []byte("<Applicant>"), []byte("<?evil data?><Applicant>"), 1), "xml-pi-forbidden", "-", "processing instruction inside the body")

	add("doctype-internal-entity.xml", []byte(`<?xml version="1.0"?>
<!DOCTYPE ServiceRequest [<!ENTITY iin "791028302728">]>
<ServiceRequest xmlns="urn:egov-gateway:request:v1"><Applicant><IIN>&iin;</IIN></Applicant></ServiceRequest>
`), "xml-doctype-forbidden", "-", "DOCTYPE with an internal entity")
	add("doctype-external-entity.xml", []byte(`<?xml version="1.0"?>
<!DOCTYPE ServiceRequest [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ServiceRequest xmlns="urn:egov-gateway:request:v1"><Applicant><IIN>&xxe;</IIN></Applicant></ServiceRequest>
`), "xml-doctype-forbidden", "-", "XXE: external entity")
	add("billion-laughs.xml", []byte(`<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol4;</lolz>
`), "xml-doctype-forbidden", "-", "billion laughs")
	add("oversized.xml", oversized(valid), "xml-too-large", "-", "larger than the 512 KiB limit")
	add("too-deep.xml", []byte(`<?xml version="1.0"?>`+"\n"+strings.Repeat("<a>", 100)+strings.Repeat("</a>", 100)+"\n"), "xml-too-deep", "-", "100 levels of nesting")
	add("too-many-elements.xml", []byte("<r>"+strings.Repeat("<a/>", 1000)+"</r>"), "xml-too-deep", "-", "1000 elements")
	add("malformed.xml", valid[:len(valid)/2], "xml-malformed", "-", "truncated document")
	add("invalid-utf8.xml", bytes.Replace(valid, []byte("higher"), []byte("hi\xffgher"), 1), "xml-malformed", "-", "invalid UTF-8")
	add("duplicate-attribute.xml", bytes.Replace(valid, []byte(`kind="identity-document"`), []byte(`kind="identity-document" kind="other"`), 1), "xml-malformed", "-", "duplicate attribute (etree would keep the last)")
	add("two-roots.xml", append(append([]byte{}, valid...), []byte("<ServiceRequest/>\n")...), "xml-malformed", "-", "a second root element after the signed one")
	for _, c := range shapeCorpus(t, valid, keys["citizen"].Certificate, ca) {
		add(c.file, c.doc, string(egov.CodeSignatureShape), "-", c.note)
	}

	var b strings.Builder
	b.WriteString("# file\texpected code (- = valid)\tIIN the check requires (- = none)\twhat it is\n")
	for _, c := range cases {
		code := c.code
		if code == "" {
			code = "-"
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", c.file, code, c.iin, c.note)
	}
	writeFile(t, filepath.Join(fixturesSigning, "expected.tsv"), []byte(b.String()))
}

func signWith(t *testing.T, iss *pki.Issued, doc string, h crypto.Hash, method string) []byte {
	t.Helper()
	tree := etree.NewDocument()
	if err := tree.ReadFromString(doc); err != nil {
		t.Fatal(err)
	}
	ctx, err := dsig.NewSigningContext(iss.Key, [][]byte{iss.Certificate.Raw})
	if err != nil {
		t.Fatal(err)
	}
	ctx.Hash = h
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(method); err != nil {
		t.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(tree.Root())
	if err != nil {
		t.Fatal(err)
	}
	tree.SetRoot(signed)
	out, err := tree.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func signSelfSigned(t *testing.T, doc string) []byte {
	t.Helper()
	dir := t.TempDir()
	if _, err := pki.Init(dir, pki.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	// The CA's own key signs: a certificate outside every trusted chain.
	s, err := signing.LoadSigner(filepath.Join(dir, "root.crt"), "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Sign([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mutate parses doc, applies fn to the tree and writes it back.
func mutate(t *testing.T, doc []byte, fn func(root *etree.Element)) []byte {
	t.Helper()
	tree := etree.NewDocument()
	if err := tree.ReadFromBytes(doc); err != nil {
		t.Fatal(err)
	}
	fn(tree.Root())
	out, err := tree.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func signatureOf(root *etree.Element) *etree.Element {
	for _, c := range root.ChildElements() {
		if c.Tag == "Signature" {
			return c
		}
	}
	return nil
}

func swapCertificate(t *testing.T, doc, der []byte) []byte {
	return mutate(t, doc, func(root *etree.Element) {
		c := signatureOf(root).FindElement(".//X509Certificate")
		c.SetText(base64.StdEncoding.EncodeToString(der))
	})
}

func gostDocument(t *testing.T, doc string, gost *x509.Certificate) []byte {
	t.Helper()
	sig := make([]byte, 128)
	_, _ = rand.Read(sig)
	out := strings.Replace(doc, "</ServiceRequest>", `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/><ds:SignatureMethod Algorithm="urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34102015-gostr34112015-512"/><ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"/></ds:Transforms><ds:DigestMethod Algorithm="urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34112015-512"/><ds:DigestValue>`+
		base64.StdEncoding.EncodeToString(sig[:64])+`</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>`+
		base64.StdEncoding.EncodeToString(sig)+`</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>`+
		base64.StdEncoding.EncodeToString(gost.Raw)+`</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature></ServiceRequest>`, 1)
	return []byte(out)
}

func addTransform(t *testing.T, doc []byte, alg string) []byte {
	return mutate(t, doc, func(root *etree.Element) {
		tr := signatureOf(root).FindElement(".//Transforms")
		x := tr.CreateElement("ds:Transform")
		x.CreateAttr("Algorithm", alg)
		x.CreateElement("ds:XPath").SetText("not(ancestor-or-self::ds:Signature)")
	})
}

func secondSignature(t *testing.T, doc []byte, other *pki.Issued) []byte {
	t.Helper()
	s := &signing.Signer{Key: other.Key, Certificate: other.Certificate}
	// The second signer co-signs a copy without the first signature, then
	// both are placed in the document, as sequential multi-signing does.
	tree := etree.NewDocument()
	if err := tree.ReadFromBytes(doc); err != nil {
		t.Fatal(err)
	}
	first := signatureOf(tree.Root())
	tree.Root().RemoveChild(first)
	signed, err := s.SignElement(tree.Root())
	if err != nil {
		t.Fatal(err)
	}
	signed.AddChild(first)
	tree.SetRoot(signed)
	out, err := tree.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func secondReference(t *testing.T, doc []byte) []byte {
	return mutate(t, doc, func(root *etree.Element) {
		si := signatureOf(root).FindElement("./SignedInfo")
		ref := si.FindElement("./Reference").Copy()
		ref.SelectAttr("URI").Value = "#other"
		si.AddChild(ref)
	})
}

func removeKeyInfo(t *testing.T, doc []byte) []byte {
	return mutate(t, doc, func(root *etree.Element) {
		sig := signatureOf(root)
		sig.RemoveChild(sig.FindElement("./KeyInfo"))
	})
}

func nestSignature(t *testing.T, doc []byte) []byte {
	return mutate(t, doc, func(root *etree.Element) {
		sig := signatureOf(root)
		root.RemoveChild(sig)
		root.FindElement("./Form").AddChild(sig)
	})
}

func wrapMoved(t *testing.T, doc []byte) []byte {
	return mutate(t, doc, func(root *etree.Element) {
		original := root.Copy()
		sig := signatureOf(root)
		for _, c := range root.ChildElements() {
			if c != sig {
				root.RemoveChild(c)
			}
		}
		root.RemoveChild(sig)
		root.CreateElement("RequestId").SetText("00000000-0000-0000-0000-000000000000")
		root.CreateElement("ServiceCode").SetText("employment-referral")
		a := root.CreateElement("Applicant")
		a.CreateElement("IIN").SetText("900101300811")
		ext := root.CreateElement("Extension")
		originalSig := signatureOf(original)
		original.RemoveChild(originalSig)
		ext.AddChild(original)
		root.AddChild(sig)
	})
}

func wrapDuplicated(t *testing.T, doc []byte) []byte {
	return mutate(t, doc, func(root *etree.Element) {
		a := etree.NewElement("Applicant")
		a.CreateElement("IIN").SetText("900101300811")
		root.InsertChildAt(root.FindElement("./Applicant").Index(), a)
	})
}

func oversized(doc []byte) []byte {
	pad := "<Padding>" + strings.Repeat("A", 520<<10) + "</Padding>"
	return bytes.Replace(doc, []byte("</Form>"), []byte("</Form>"+pad), 1)
}
