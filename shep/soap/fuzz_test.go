package soap_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"egov/shep/soap"
)

// FuzzDecode feeds arbitrary bytes to the envelope decoder: it must never
// panic, every refusal is a FormatError, and whatever it accepts must
// encode and decode again to the same operation and the same bytes (so
// that an accepted envelope carries nothing the types cannot hold, which
// is what a second sender or a second operation would be).
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("../../fixtures/shep/*.xml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// Seeds on the boundary of the strict contract (issue 14), for the
	// mutator to start from.
	send := string(mustEncodeF(f, examples()["async-sendMessage"]))
	for _, edit := range [][2]string{
		{"</sender>", "</sender><sender><senderId>x</senderId></sender>"},
		{"</S:Body>", "</S:Body><S:Body/>"},
		{"</ns2:sendMessage>", "</ns2:sendMessage><ns2:getMessages xmlns:ns2=\"" + soap.NSAsyncTypes + "\"/>"},
		{"<S:Body>", "<S:Header/><S:Body>"},
		{"<properties>", "<properties><key>k</key><value>v</value></properties><properties>"},
	} {
		f.Add([]byte(strings.Replace(send, edit[0], edit[1], 1)))
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
		third, err := soap.Encode(w)
		if err != nil || !bytes.Equal(third, again) {
			t.Fatalf("%s is not stable under decode and encode:\n%s\n%s", soap.OperationName(v), again, third)
		}
	})
}

func mustEncodeF(f *testing.F, v any) []byte {
	f.Helper()
	data, err := soap.Encode(v)
	if err != nil {
		f.Fatal(err)
	}
	return data
}
