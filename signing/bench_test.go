package signing_test

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/jonboulle/clockwork"
	dsig "github.com/russellhaering/goxmldsig"
)

// benchDocument returns a signed request of about size bytes: the request of
// the corpus with a long form field, so the element count stays small and
// only the bytes grow.
func benchDocument(b *testing.B, size int) []byte {
	b.Helper()
	doc := requestXML("791028302728", "ЖАҚСЫЛЫҚОВ", "АЙДОС")
	if pad := size - len(doc) - 2600; pad > 0 {
		doc = strings.Replace(doc, "</Form>", `  <Field name="note">`+strings.Repeat("Жұмыс іздеп жүрмін. ", pad/34)+"</Field>\n  </Form>", 1)
	}
	return mustSign(b, fixtureSigner(b, "citizen"), doc)
}

// BenchmarkVerify is the full pipeline with the certificate's chain and
// revocation verdict cached, as for a citizen's second request; and the
// same document verified again by a Verifier that remembers it, as the bus
// and the labour-market system do after the portal in one process.
func BenchmarkVerify(b *testing.B) {
	for _, size := range []struct {
		name  string
		bytes int
	}{{"2KiB", 2 << 10}, {"100KiB", 100 << 10}} {
		doc := benchDocument(b, size.bytes)
		b.Run("pipeline/"+size.name, func(b *testing.B) {
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
		b.Run("remembered/"+size.name, func(b *testing.B) {
			v := fixtureVerifier(b)
			if _, err := v.Verify(context.Background(), doc); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := v.Verify(context.Background(), doc); err != nil {
					b.Fatal(err)
				}
			}
		})
		// goxmldsig alone: parse and Validate against the pinned leaf, the
		// least any verifier must do. It is the floor for the pipeline.
		b.Run("goxmldsig-only/"+size.name, func(b *testing.B) {
			leaf := fixtureSigner(b, "citizen").Certificate
			clock := dsig.NewFakeClock(clockwork.NewFakeClockAt(corpusTime))
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tree := etree.NewDocument()
				if err := tree.ReadFromBytes(doc); err != nil {
					b.Fatal(err)
				}
				ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{leaf}})
				ctx.Clock = clock
				if _, err := ctx.Validate(tree.Root()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyColdCertificate verifies with an empty chain cache each
// time: the cost of a citizen's first request.
func BenchmarkVerifyColdCertificate(b *testing.B) {
	doc := benchDocument(b, 2<<10)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		v := fixtureVerifier(b)
		b.StartTimer()
		if _, err := v.Verify(context.Background(), doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	s := fixtureSigner(b, "citizen")
	doc := []byte(requestXML("791028302728", "ЖАҚСЫЛЫҚОВ", "АЙДОС"))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := s.Sign(doc); err != nil {
			b.Fatal(err)
		}
	}
}
