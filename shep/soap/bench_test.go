package soap_test

import (
	"testing"

	"egov/shep/soap"
)

// BenchmarkCodec encodes and decodes the sendMessage of a signed request.
func BenchmarkCodec(b *testing.B) {
	msg := examples()["async-sendMessage"]
	data, err := soap.Encode(msg)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := soap.Encode(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := soap.Decode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
