package signing_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/jonboulle/clockwork"
	dsig "github.com/russellhaering/goxmldsig"

	"egov"
)

// go test ./signing -run TestGenerateShapeFixtures -update-shape
// writes only the signature-shape documents, from the committed valid.xml
// and the committed test PKI, and puts their rows at the end of
// expected.tsv; every other fixture stays as it is.
var updateShape = flag.Bool("update-shape", false, "regenerate the signature-shape documents of fixtures/signing from the committed valid.xml")

// shapeCase is a document whose signature is valid and whose only fault is
// what it carries inside ds:Signature.
type shapeCase struct {
	file string
	doc  []byte
	note string
}

// shapeCorpus derives the signature-shape documents from valid, the
// committed request signed by the citizen whose certificate is leaf; ca is
// the issuing CA, the certificate a signer would add to show its chain.
// Every change lies inside ds:Signature but outside SignedInfo, which the
// enveloped transform removes before the digest and the signature value
// does not cover: goxmldsig alone would accept each of them.
func shapeCorpus(t *testing.T, valid []byte, leaf, ca *x509.Certificate) []shapeCase {
	t.Helper()
	child := func(parent *etree.Element, tag string) *etree.Element {
		t.Helper()
		el := parent.SelectElement(tag)
		if el == nil {
			t.Fatalf("valid.xml: no %s in %s", tag, parent.Tag)
		}
		return el
	}
	second := etree.NewDocument()
	if err := second.ReadFromString(requestXML("900101300811", "ОМАРОВА", "ДИНАРА")); err != nil {
		t.Fatal(err)
	}
	return []shapeCase{
		{"object-in-signature.xml", mutate(t, valid, func(root *etree.Element) {
			obj := signatureOf(root).CreateElement("ds:Object")
			a := obj.CreateElement("Applicant")
			a.CreateAttr("xmlns", "urn:egov-gateway:request:v1")
			a.CreateElement("IIN").SetText("900101300811")
		}), "valid signature plus a ds:Object (another applicant's IIN) after KeyInfo: covered by no digest"},
		{"foreign-element-in-signature.xml", mutate(t, valid, func(root *etree.Element) {
			sig := signatureOf(root)
			x := etree.NewElement("x:Metadata")
			x.CreateAttr("xmlns:x", "urn:example:not-xmldsig")
			x.CreateElement("x:IIN").SetText("900101300811")
			sig.InsertChildAt(0, x)
		}), "valid signature plus an element of a foreign namespace before SignedInfo"},
		{"keyname-in-keyinfo.xml", mutate(t, valid, func(root *etree.Element) {
			ki := child(signatureOf(root), "KeyInfo")
			kn := etree.NewElement("ds:KeyName")
			kn.SetText("ЖАҚСЫЛЫҚОВ АЙДОС")
			ki.InsertChildAt(0, kn)
		}), "valid signature whose KeyInfo holds a KeyName before X509Data"},
		{"two-certificates.xml", mutate(t, valid, func(root *etree.Element) {
			xd := child(child(signatureOf(root), "KeyInfo"), "X509Data")
			xd.CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(ca.Raw))
		}), "valid signature whose X509Data holds the issuing CA's certificate after the signer's"},
		{"issuer-serial-in-x509data.xml", mutate(t, valid, func(root *etree.Element) {
			xd := child(child(signatureOf(root), "KeyInfo"), "X509Data")
			is := etree.NewElement("ds:X509IssuerSerial")
			is.CreateElement("ds:X509IssuerName").SetText(leaf.Issuer.String())
			is.CreateElement("ds:X509SerialNumber").SetText(leaf.SerialNumber.String())
			xd.InsertChildAt(0, is)
		}), "valid signature whose X509Data holds the signer's X509IssuerSerial next to the certificate"},
		{"request-in-signature.xml", mutate(t, valid, func(root *etree.Element) {
			signatureOf(root).AddChild(second.Root().Copy())
		}), "valid signature plus a whole second ServiceRequest (another citizen's) inside ds:Signature"},
		{"text-in-signature.xml", mutate(t, valid, func(root *etree.Element) {
			sig := signatureOf(root)
			sig.InsertChildAt(child(sig, "SignatureValue").Index(), etree.NewText("IIN 900101300811"))
		}), "valid signature with text between SignedInfo and SignatureValue"},
		{"keyinfo-before-signaturevalue.xml", mutate(t, valid, func(root *etree.Element) {
			sig := signatureOf(root)
			ki := child(sig, "KeyInfo")
			sig.RemoveChild(ki)
			sig.InsertChildAt(child(sig, "SignatureValue").Index(), ki)
		}), "valid signature whose KeyInfo comes before SignatureValue"},
	}
}

// shapeRow is the expected.tsv row of a shape document.
func shapeRow(c shapeCase) string {
	return fmt.Sprintf("%s\t%s\t-\t%s\n", c.file, egov.CodeSignatureShape, c.note)
}

func TestGenerateShapeFixtures(t *testing.T) {
	if !*updateShape {
		t.Skip("run with -update-shape to regenerate the signature-shape documents")
	}
	valid, err := os.ReadFile(filepath.Join(fixturesSigning, "valid.xml"))
	if err != nil {
		t.Fatal(err)
	}
	cases := shapeCorpus(t, valid, readCertificate(t, "keys/citizen.crt"), readCertificate(t, "ca.crt"))
	files := map[string]bool{}
	for _, c := range cases {
		files[c.file] = true
		writeFile(t, filepath.Join(fixturesSigning, c.file), c.doc)
	}
	table, err := os.ReadFile(filepath.Join(fixturesSigning, "expected.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(table), "\n") {
		if line == "" || files[strings.SplitN(line, "\t", 2)[0]] {
			continue
		}
		b.WriteString(line)
	}
	for _, c := range cases {
		b.WriteString(shapeRow(c))
	}
	writeFile(t, filepath.Join(fixturesSigning, "expected.tsv"), []byte(b.String()))
}

// readCertificate reads the first certificate of a PEM file of the
// committed test PKI.
func readCertificate(t testing.TB, rel string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixturesPKI, rel))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", rel)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestShapeCorpusIsValidlySigned proves that the signature-shape documents
// are refused for their shape and for nothing else: goxmldsig, given the
// citizen's certificate, accepts every one of them, and the certificate in
// each is that of valid.xml, which the verifier accepts. Without the shape
// check they would pass as signed.
func TestShapeCorpusIsValidlySigned(t *testing.T) {
	citizen := readCertificate(t, "keys/citizen.crt")
	n := 0
	for _, c := range readExpected(t) {
		if c.code != string(egov.CodeSignatureShape) {
			continue
		}
		n++
		t.Run(c.file, func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join(fixturesSigning, c.file))
			if err != nil {
				t.Fatal(err)
			}
			tree := etree.NewDocument()
			if err := tree.ReadFromBytes(doc); err != nil {
				t.Fatal(err)
			}
			sig := signatureOf(tree.Root())
			first := sig.FindElement(".//X509Certificate")
			if first == nil {
				t.Fatal("no X509Certificate")
			}
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(first.Text()), ""))
			if err != nil || !bytes.Equal(der, citizen.Raw) {
				t.Fatalf("the first certificate is not the citizen's (%v)", err)
			}
			vctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{citizen}})
			vctx.Clock = dsig.NewFakeClock(clockwork.NewFakeClockAt(corpusTime))
			verified, err := vctx.Validate(tree.Root())
			if err != nil {
				t.Fatalf("goxmldsig refuses it, so it does not test the shape check: %v", err)
			}
			if iin := verified.FindElement("./Applicant/IIN"); iin == nil || iin.Text() != "791028302728" {
				t.Fatalf("verified content is not the citizen's request")
			}
		})
	}
	if n < len(shapeCorpus(t, readValid(t), citizen, readCertificate(t, "ca.crt"))) {
		t.Fatalf("expected.tsv has %d signature-shape documents, the generator makes more", n)
	}
}

func readValid(t testing.TB) []byte {
	t.Helper()
	valid, err := os.ReadFile(filepath.Join(fixturesSigning, "valid.xml"))
	if err != nil {
		t.Fatal(err)
	}
	return valid
}

// TestShapeFixturesAreCurrent keeps the committed shape documents equal to
// what the generator derives from the committed valid.xml, so a change to
// one without the other is noticed.
func TestShapeFixturesAreCurrent(t *testing.T) {
	cases := shapeCorpus(t, readValid(t), readCertificate(t, "keys/citizen.crt"), readCertificate(t, "ca.crt"))
	rows := readExpected(t)
	for _, c := range cases {
		got, err := os.ReadFile(filepath.Join(fixturesSigning, c.file))
		if err != nil {
			t.Fatalf("%v (go test ./signing -run TestGenerateShapeFixtures -update-shape)", err)
		}
		if !bytes.Equal(got, c.doc) {
			t.Errorf("%s differs from what the generator makes", c.file)
		}
		if !slices.ContainsFunc(rows, func(r expectedCase) bool {
			return r.file == c.file && r.code == string(egov.CodeSignatureShape) && r.note == c.note
		}) {
			t.Errorf("expected.tsv has no row %q", strings.TrimSpace(shapeRow(c)))
		}
	}
}

// TestSignatureOutline covers the shape rule's edges that the corpus does
// not, and which code wins where a missing part and a shape fault meet.
func TestSignatureOutline(t *testing.T) {
	valid := readValid(t)
	sigOf := func(root *etree.Element) *etree.Element { return signatureOf(root) }
	tests := []struct {
		name string
		edit func(root *etree.Element)
		want egov.Code
	}{
		{"unchanged", func(*etree.Element) {}, ""},
		{"whitespace between the parts", func(root *etree.Element) {
			sig := sigOf(root)
			for _, c := range slices.Clone(sig.ChildElements()) {
				sig.InsertChildAt(c.Index(), etree.NewText("\n  \t"))
			}
		}, ""},
		{"no KeyInfo stays certificate-malformed", func(root *etree.Element) {
			sig := sigOf(root)
			sig.RemoveChild(sig.SelectElement("KeyInfo"))
		}, egov.CodeCertificateMalformed},
		{"empty KeyInfo is a missing certificate", func(root *etree.Element) {
			ki := sigOf(root).SelectElement("KeyInfo")
			ki.RemoveChild(ki.SelectElement("X509Data"))
		}, egov.CodeCertificateMalformed},
		{"empty X509Data is a missing certificate", func(root *etree.Element) {
			xd := sigOf(root).SelectElement("KeyInfo").SelectElement("X509Data")
			xd.RemoveChild(xd.SelectElement("X509Certificate"))
		}, egov.CodeCertificateMalformed},
		{"no SignatureValue stays signature-invalid", func(root *etree.Element) {
			sig := sigOf(root)
			sig.RemoveChild(sig.SelectElement("SignatureValue"))
		}, egov.CodeSignatureInvalid},
		{"shape beats the missing certificate", func(root *etree.Element) {
			sig := sigOf(root)
			sig.RemoveChild(sig.SelectElement("KeyInfo"))
			sig.CreateElement("ds:Object")
		}, egov.CodeSignatureShape},
		{"second KeyInfo", func(root *etree.Element) {
			sig := sigOf(root)
			sig.AddChild(sig.SelectElement("KeyInfo").Copy())
		}, egov.CodeSignatureShape},
		{"second SignedInfo", func(root *etree.Element) {
			sig := sigOf(root)
			sig.InsertChildAt(1, sig.SelectElement("SignedInfo").Copy())
		}, egov.CodeSignatureShape},
		{"SignatureValue first", func(root *etree.Element) {
			sig := sigOf(root)
			sv := sig.SelectElement("SignatureValue")
			sig.RemoveChild(sv)
			sig.InsertChildAt(0, sv)
		}, egov.CodeSignatureShape},
		{"second X509Data", func(root *etree.Element) {
			ki := sigOf(root).SelectElement("KeyInfo")
			ki.AddChild(ki.SelectElement("X509Data").Copy())
		}, egov.CodeSignatureShape},
		{"KeyValue in KeyInfo", func(root *etree.Element) {
			sigOf(root).SelectElement("KeyInfo").CreateElement("ds:KeyValue")
		}, egov.CodeSignatureShape},
		{"text inside KeyInfo", func(root *etree.Element) {
			sigOf(root).SelectElement("KeyInfo").CreateText("x")
		}, egov.CodeSignatureShape},
		{"CDATA inside X509Data", func(root *etree.Element) {
			sigOf(root).SelectElement("KeyInfo").SelectElement("X509Data").CreateCData("x")
		}, egov.CodeSignatureShape},
		{"element inside X509Certificate", func(root *etree.Element) {
			sigOf(root).FindElement(".//X509Certificate").CreateElement("ds:X509Certificate")
		}, egov.CodeSignatureShape},
		{"an unprefixed element takes the request's namespace", func(root *etree.Element) {
			sigOf(root).CreateElement("Object")
		}, egov.CodeSignatureShape},
		{"a KeyInfo of another namespace", func(root *etree.Element) {
			ki := sigOf(root).SelectElement("KeyInfo")
			ki.Space = ""
			ki.CreateAttr("xmlns", "urn:example:not-xmldsig")
		}, egov.CodeSignatureShape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := mutate(t, valid, tt.edit)
			_, err := fixtureVerifier(t).Verify(context.Background(), doc)
			if got := egov.ErrorCode(err); got != tt.want {
				t.Fatalf("got %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}
