package signing_test

import (
	"os"
	"testing"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// goxmldsig before v1.6.1 has published advisories (research/signing.md
// §4.4); the module must never fall back below it.
func TestGoxmldsigIsNotVulnerable(t *testing.T) {
	data, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range mod.Require {
		if r.Mod.Path == "github.com/russellhaering/goxmldsig" {
			if semver.Compare(r.Mod.Version, "v1.6.1") < 0 {
				t.Fatalf("goxmldsig %s: v1.6.1 or later is required", r.Mod.Version)
			}
			return
		}
	}
	t.Fatal("goxmldsig is not a requirement of go.mod")
}
