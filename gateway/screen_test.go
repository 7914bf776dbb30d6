package gateway_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
)

// TestSignatureLoginRefusesTooManyAttributes posts the document of issue
// 14 (a signed challenge whose root carries 40,000 attributes, 400 KB,
// under the endpoint's 512 KiB body limit) to the unauthenticated login by
// signature over a real socket. It is refused for its attributes, before
// any signature work: the code says which check stopped it.
func TestSignatureLoginRefusesTooManyAttributes(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct {
		name  string
		total int // attributes on the root, its own included
		code  string
	}{
		{"40,000 on the root", 40_000, "xml-too-many-attributes"},
		{"17 on the root, one over the limit", 17, "xml-too-many-attributes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := withRootAttributes(t, e.signedChallenge("citizen"), tt.total)
			var p problem
			code, _ := e.call("POST", "/api/v1/sessions/signature", "", doc, &p)
			if code != http.StatusBadRequest || p.Code != tt.code {
				t.Fatalf("%d bytes: %d %q, want 400 %q", len(doc), code, p.Code, tt.code)
			}
		})
	}
	// The same challenge untouched still logs in: the limits leave a real
	// document alone.
	var s struct{ IIN string }
	if code, _ := e.call("POST", "/api/v1/sessions/signature", "", e.signedChallenge("citizen"), &s); code != http.StatusCreated || s.IIN != citizenIIN {
		t.Fatalf("plain login by signature: %d %+v", code, s)
	}
}

// withRootAttributes adds attributes (a00000="" …) to the root's start tag
// of doc until it has total.
func withRootAttributes(t *testing.T, doc []byte, total int) []byte {
	t.Helper()
	start := 0
	for {
		i := bytes.IndexByte(doc[start:], '<')
		if i < 0 {
			t.Fatal("no root element")
		}
		start += i
		if doc[start+1] != '?' {
			break
		}
		start++
	}
	end := start + bytes.IndexByte(doc[start:], '>')
	// The challenge's root has only plain namespace and attribute values,
	// so its '=' are its attributes.
	n := total - bytes.Count(doc[start:end], []byte("="))
	var b bytes.Buffer
	b.Write(doc[:end])
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, " a%05d=\"\"", i)
	}
	b.Write(doc[end:])
	return b.Bytes()
}
