package password_test

import (
	"strings"
	"testing"

	"egov/internal/password"
)

func TestHashAndCheck(t *testing.T) {
	h, err := password.Hash("correct horse 1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || password.Validate(h) != nil {
		t.Fatalf("hash %s", h)
	}
	if !password.Check(h, "correct horse 1") || password.Check(h, "correct horse 2") || password.Check("garbage", "x") {
		t.Fatal("check is wrong")
	}
	other, _ := password.Hash("correct horse 1")
	if other == h {
		t.Fatal("two hashes of one password share a salt")
	}
	if password.Validate("$argon2id$v=19$m=99999999,t=2,p=1$AAAA$AAAA") == nil {
		t.Fatal("absurd memory cost accepted")
	}
}
