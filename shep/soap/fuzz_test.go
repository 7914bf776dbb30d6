package soap_test

import (
	"os"
	"path/filepath"
	"testing"

	"egov/shep/soap"
)

// FuzzDecode feeds arbitrary bytes to the envelope decoder: it must never
// panic, and whatever it accepts must encode and decode again to the same
// operation.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("../../fixtures/shep/*.xml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := soap.Decode(data)
		if err != nil {
			if _, ok := err.(*soap.FormatError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		again, err := soap.Encode(v)
		if err != nil {
			t.Fatalf("decoded %s but cannot encode it: %v", soap.OperationName(v), err)
		}
		w, err := soap.Decode(again)
		if err != nil || soap.OperationName(w) != soap.OperationName(v) {
			t.Fatalf("round trip changed %s into %v (%v)", soap.OperationName(v), w, err)
		}
	})
}
