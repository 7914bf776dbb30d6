package signing_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"egov/signing"
	"egov/signing/pki"
)

// copyAuthority gives a test its own writable copy of the committed test
// authority, so that issuing and revoking never touch the fixtures.
func copyAuthority(t testing.TB) *pki.Authority {
	t.Helper()
	a, err := pki.Clone(fixturesPKI, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// fixtureSigner opens a key of the committed test PKI by its manifest name.
func fixtureSigner(t testing.TB, name string) *signing.Signer {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixturesPKI, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]manifestEntry
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	e, ok := m[name]
	if !ok {
		t.Fatalf("no key %q in manifest", name)
	}
	s, err := signing.LoadSigner(filepath.Join(fixturesPKI, e.Prefix+".p12"), e.Password)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func mustSign(t testing.TB, s *signing.Signer, doc string) []byte {
	t.Helper()
	out, err := s.Sign([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return out
}
