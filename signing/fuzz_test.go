package signing_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"egov"
	"egov/signing"
)

// FuzzVerify feeds arbitrary bytes to the whole pipeline: it must never
// panic, every refusal must carry a code of the table, and an accepted
// document must name its signer.
func FuzzVerify(f *testing.F) {
	entries, err := os.ReadDir(fixturesSigning)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".xml") || e.Name() == "oversized.xml" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(fixturesSigning, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	v := fixtureVerifier(f)
	f.Fuzz(func(t *testing.T, doc []byte) {
		res, err := v.Verify(context.Background(), doc)
		if err != nil {
			if code := egov.ErrorCode(err); !code.Known() || code == egov.CodeInternal {
				t.Fatalf("refusal without a table code: %v", err)
			}
			return
		}
		if res.Element == nil || res.Signer.IIN == "" || res.Evidence.SignedDigest == "" {
			t.Fatalf("accepted without a signer: %+v", res)
		}
	})
}

// FuzzParseScreened checks the screen's counts against encoding/xml's own
// tokens (the tokenizer etree builds its tree from), under limits small
// enough for the fuzzer to cross: a document accepted is within every
// limit, and a document refused for a limit is over that limit. So the fast
// scan of the bytes never refuses what it should let through, and what it
// misses the tree check catches.
func FuzzParseScreened(f *testing.F) {
	for _, seed := range []string{
		`<r a="1" b="2"><e c="3"/></r>`,
		`<r xmlns="urn:r" xmlns:p="urn:p" p:a="1"><p:e/></r>`,
		`<?xml version="1.0"?><r a="x=y>z"><![CDATA[<e a="1" b="2" c="3">]]></r>`,
		`<r><a><b><c><d/></c></b></a></r>`,
		`<r a='1' b="'"/>`,
	} {
		f.Add([]byte(seed))
	}
	lim := signing.Limits{MaxDepth: 4, MaxElements: 6, MaxAttributesPerElement: 3, MaxAttributes: 5, MaxNamespaces: 2}
	f.Fuzz(func(t *testing.T, doc []byte) {
		_, err := signing.ParseScreened(doc, lim)
		depth, elements, perElement, attributes, namespaces, ok := referenceCounts(doc)
		if !ok {
			return // malformed for encoding/xml: any refusal will do
		}
		tooDeep := depth > lim.MaxDepth || elements > lim.MaxElements
		tooMany := perElement > lim.MaxAttributesPerElement || attributes > lim.MaxAttributes || namespaces > lim.MaxNamespaces
		switch egov.ErrorCode(err) {
		case "":
			if tooDeep || tooMany {
				t.Fatalf("accepted: depth %d, %d elements, %d attributes on one, %d in all, %d namespaces", depth, elements, perElement, attributes, namespaces)
			}
		case egov.CodeXMLTooDeep:
			if !tooDeep {
				t.Fatalf("refused as too deep: depth %d, %d elements (%v)", depth, elements, err)
			}
		case egov.CodeXMLTooManyAttributes:
			if !tooMany {
				t.Fatalf("refused for attributes: %d on one, %d in all, %d namespaces (%v)", perElement, attributes, namespaces, err)
			}
		}
	})
}

// referenceCounts reads doc with encoding/xml's tokenizer as etree does and
// returns the deepest nesting, the elements, the most attributes on one,
// the attributes and namespace declarations in all; ok is false when the
// tokenizer refuses the document.
func referenceCounts(doc []byte) (depth, elements, perElement, attributes, namespaces int, ok bool) {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	level := 0
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			return depth, elements, perElement, attributes, namespaces, true
		}
		if err != nil {
			return 0, 0, 0, 0, 0, false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			level++
			depth = max(depth, level)
			elements++
			perElement = max(perElement, len(t.Attr))
			attributes += len(t.Attr)
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
					namespaces++
				}
			}
		case xml.EndElement:
			level--
		}
	}
}

// FuzzParseIIN checks the parser against a plain reading of the rule.
func FuzzParseIIN(f *testing.F) {
	for _, s := range []string{"791028302728", "900101300811", "123456789011", "", "abc", "900101300800"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		iin, err := signing.ParseIIN(s)
		if err != nil {
			if egov.ErrorCode(err) != egov.CodeIINInvalid {
				t.Fatalf("%q: %v", s, err)
			}
			if referenceCheckDigit(s) && validDate(s) {
				t.Fatalf("%q refused but passes the reference check", s)
			}
			return
		}
		if iin.String() != s || !referenceCheckDigit(s) {
			t.Fatalf("%q accepted but fails the reference check", s)
		}
	})
}

// referenceCheckDigit is the rule of research/signing.md §3.2 written out
// as plainly as possible.
func referenceCheckDigit(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	sum := 0
	for i := 0; i < 11; i++ {
		sum += int(s[i]-'0') * (i + 1)
	}
	k := sum % 11
	if k == 10 {
		w := []int{3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2}
		sum = 0
		for i := 0; i < 11; i++ {
			sum += int(s[i]-'0') * w[i]
		}
		k = sum % 11
		if k == 10 {
			return false
		}
	}
	return k == int(s[11]-'0')
}

// validDate says whether an IIN with a valid check digit would also pass
// the birth date check (digit 7 outside 1..6 encodes no date).
func validDate(s string) bool {
	c := s[6]
	if c < '1' || c > '6' {
		return true
	}
	m := int(s[2]-'0')*10 + int(s[3]-'0')
	d := int(s[4]-'0')*10 + int(s[5]-'0')
	return m >= 1 && m <= 12 && d >= 1 && d <= 28
}

// FuzzCertificateIdentity reads the identity out of arbitrary certificates
// (KeyInfo carries whatever a sender puts there): never a panic.
func FuzzCertificateIdentity(f *testing.F) {
	entries, _ := filepath.Glob(filepath.Join(fixturesPKI, "keys", "*.crt"))
	for _, path := range entries {
		if data, err := os.ReadFile(path); err == nil {
			if block, _ := pem.Decode(data); block != nil {
				f.Add(block.Bytes)
			}
		}
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return
		}
		id := signing.IdentityOf(cert)
		_ = signing.PurposeOf(cert)
		_ = signing.IsGOST(cert)
		if id.IIN != "" {
			if _, err := signing.ParseIIN(id.IIN); err != nil {
				t.Fatalf("identity with an invalid IIN %q", id.IIN)
			}
		}
	})
}

// FuzzCRLAdd offers arbitrary revocation lists (they come from a URL): a
// list is taken only when the trusted authority signed it.
func FuzzCRLAdd(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join(fixturesPKI, "crl.pem")); err == nil {
		if block, _ := pem.Decode(data); block != nil {
			f.Add(block.Bytes)
		}
		f.Add(data)
	}
	trust, err := signing.LoadTrustDir(filepath.Join(fixturesPKI, "trust"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set := &signing.CRLSet{Trust: trust}
		if err := set.Add(data); err != nil {
			return
		}
		list, err := x509.ParseRevocationList(data)
		if err != nil {
			if block, _ := pem.Decode(data); block != nil {
				list, err = x509.ParseRevocationList(block.Bytes)
			}
		}
		if err != nil {
			t.Fatalf("accepted a list that does not parse: %v", err)
		}
		signedByTrusted := false
		for _, ca := range []string{"ca.crt", "root.crt"} {
			if pemData, err := os.ReadFile(filepath.Join(fixturesPKI, ca)); err == nil {
				if block, _ := pem.Decode(pemData); block != nil {
					if c, err := x509.ParseCertificate(block.Bytes); err == nil && list.CheckSignatureFrom(c) == nil {
						signedByTrusted = true
					}
				}
			}
		}
		if !signedByTrusted {
			t.Fatal("accepted a list no trusted authority signed")
		}
	})
}
