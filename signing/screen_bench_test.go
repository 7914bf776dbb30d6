package signing_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"egov/signing"
)

// manyAttributes returns doc with n attributes added to its root's start
// tag (a00000="", a00001="", …): 10 bytes each, so 40,000 of them make the
// 390 KiB document of issue 14.
func manyAttributes(doc []byte, n int) []byte {
	start := bytes.Index(doc, []byte("<ServiceRequest"))
	end := start + bytes.IndexByte(doc[start:], '>')
	var b bytes.Buffer
	b.Grow(len(doc) + 10*n)
	b.Write(doc[:end])
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, " a%05d=\"\"", i)
	}
	b.Write(doc[end:])
	return b.Bytes()
}

// countTree returns the elements and attributes of a document as etree
// reads them, and its deepest nesting.
func countTree(t testing.TB, doc []byte) (elements, attributes, namespaces, depth int) {
	t.Helper()
	tree := etree.NewDocument()
	tree.ReadSettings.PreserveDuplicateAttrs = true
	if err := tree.ReadFromBytes(doc); err != nil {
		t.Fatal(err)
	}
	var walk func(*etree.Element, int)
	walk = func(el *etree.Element, d int) {
		elements++
		attributes += len(el.Attr)
		for _, a := range el.Attr {
			if a.Space == "xmlns" || a.Space == "" && a.Key == "xmlns" {
				namespaces++
			}
		}
		depth = max(depth, d)
		for _, c := range el.ChildElements() {
			walk(c, d+1)
		}
	}
	walk(tree.Root(), 1)
	return elements, attributes, namespaces, depth
}

// expensiveDocument builds the most expensive document the default limits
// let through, signed by the citizen: as close to MaxBytes as the signature
// leaves room for, exactly MaxElements elements, MaxAttributes attributes,
// MaxDepth deep. With namespaces, the top of the chain from the root down
// declares all MaxNamespaces namespaces and uses them, so that
// canonicalization carries them all in scope to each of the ~450 leaves at
// the bottom, and every leaf uses some of them in attributes holding the
// bytes; without, the attributes are plain and the bytes are text.
func expensiveDocument(t testing.TB, namespaces bool) []byte {
	t.Helper()
	lim := signing.DefaultLimits()
	signer := fixtureSigner(t, "citizen")
	// What the signature itself adds to a document.
	bare := `<ServiceRequest xmlns="urn:egov-gateway:request:v1"></ServiceRequest>`
	sigElements, sigAttributes, _, _ := countTree(t, mustSign(t, signer, bare))
	sigElements--   // the root
	sigAttributes-- // its xmlns
	sigBytes := len(mustSign(t, signer, bare)) - len(bare)

	chain := lim.MaxDepth - 1 // elements under the root, one inside the other
	leaves := lim.MaxElements - 1 - chain - sigElements
	// Namespaces left to declare: the root's and the signature's are
	// taken; each declaring element of the chain declares half its
	// attributes' worth and uses them in the other half.
	perLevel := 6
	declaring := (lim.MaxNamespaces - 2) / perLevel
	var b strings.Builder
	attrs := 0
	openTag := func(name string, n int, declare bool, level int) {
		b.WriteString("<" + name)
		for k := 0; k < n; k++ {
			switch {
			case !namespaces:
				fmt.Fprintf(&b, ` a%d="%d"`, k, level)
			case declare && k >= 2*perLevel:
				fmt.Fprintf(&b, ` a%d="%d"`, k, level)
			case declare && k%2 == 0:
				fmt.Fprintf(&b, ` xmlns:p%d_%d="urn:egov-gateway:test:%d:%d"`, level, k/2, level, k/2)
			case declare:
				fmt.Fprintf(&b, ` p%d_%d:a="%d"`, level, k/2, level)
			case level < 0:
				fmt.Fprintf(&b, ` a%d="%d"`, k, -level)
			default:
				fmt.Fprintf(&b, ` p%d_%d:a%d="{fill}"`, 1+k%declaring, k%perLevel, k)
			}
		}
		attrs += n
		b.WriteString(">")
	}
	b.WriteString(`<ServiceRequest xmlns="urn:egov-gateway:request:v1">`)
	attrs++
	for level := 1; level <= chain; level++ {
		if level <= declaring {
			openTag(fmt.Sprintf("L%d", level), lim.MaxAttributesPerElement, true, level)
		} else {
			openTag(fmt.Sprintf("L%d", level), lim.MaxAttributesPerElement, false, -level)
		}
	}
	// The leaves hang from the last-but-one element of the chain, so they
	// sit as deep as the limit allows.
	b.WriteString(fmt.Sprintf("</L%d>", chain))
	left := lim.MaxAttributes - sigAttributes - attrs
	for i := 0; i < leaves; i++ {
		n := left / (leaves - i)
		openTag("V", n, false, i)
		left -= n
		b.WriteString("</V>")
	}
	for level := chain - 1; level >= 1; level-- {
		fmt.Fprintf(&b, "</L%d>", level)
	}
	b.WriteString("</ServiceRequest>")
	doc := b.String()
	// The bytes left go into the leaves' attribute values (with namespaces)
	// or their text (without), spread evenly.
	fill := func(room int) []byte {
		filled := doc
		if namespaces {
			holes := strings.Count(doc, "{fill}")
			filled = strings.ReplaceAll(doc, "{fill}", strings.Repeat("x", room/holes))
		} else {
			filled = strings.ReplaceAll(doc, "></V>", ">"+strings.Repeat("z", room/leaves)+"</V>")
		}
		return mustSign(t, signer, filled)
	}
	// The signer writes the document back in its own way, so the first
	// guess at the room is corrected once by what it made of it.
	room := lim.MaxBytes - sigBytes - len(doc) - 512
	signed := fill(room)
	signed = fill(room + lim.MaxBytes - 512 - len(signed))
	elements, attributes, ns, depth := countTree(t, signed)
	if len(signed) > lim.MaxBytes || len(signed) < lim.MaxBytes-1024 || elements != lim.MaxElements ||
		attributes != lim.MaxAttributes || depth != lim.MaxDepth || namespaces && ns != lim.MaxNamespaces {
		t.Fatalf("expensive document: %d bytes, %d elements, %d attributes, %d namespaces, depth %d; limits %+v",
			len(signed), elements, attributes, ns, depth, lim)
	}
	return signed
}

// BenchmarkScreenLimits verifies the most expensive documents the default
// limits let through, the whole pipeline with the certificate's verdict
// cached (what an attacker with a valid key pays nothing for), and refuses
// the 40,000-attribute document of issue 14.
func BenchmarkScreenLimits(b *testing.B) {
	for _, c := range []struct {
		name       string
		namespaces bool
	}{{"accepted/namespaces", true}, {"accepted/plain", false}} {
		b.Run(c.name, func(b *testing.B) {
			doc := expensiveDocument(b, c.namespaces)
			v := fixtureVerifier(b)
			v.Uncached = true
			if _, err := v.Verify(context.Background(), doc); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := v.Verify(context.Background(), doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("refused/40000-attributes", func(b *testing.B) {
		doc := manyAttributes(mustSign(b, fixtureSigner(b, "citizen"), requestXML("791028302728", "ЖАҚСЫЛЫҚОВ", "АЙДОС")), 40_000)
		v := fixtureVerifier(b)
		v.Uncached = true
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := v.Verify(context.Background(), doc); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}
