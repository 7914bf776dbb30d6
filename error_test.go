package egov_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"egov"
)

func TestEveryCodeSpeaksThreeLanguages(t *testing.T) {
	seen := map[string]egov.Code{}
	for _, c := range egov.Codes() {
		m := c.Message()
		if m.RU == "" || m.KK == "" || m.EN == "" {
			t.Errorf("%s: missing a language: %+v", c, m)
		}
		if other, dup := seen[m.EN]; dup {
			t.Errorf("%s and %s share the message %q", c, other, m.EN)
		}
		seen[m.EN] = c
		if s := c.HTTPStatus(); s < 400 || s > 599 {
			t.Errorf("%s: status %d", c, s)
		}
	}
}

func TestErrorCode(t *testing.T) {
	base := errors.New("boom")
	err := fmt.Errorf("wrapped: %w", egov.Errorf(egov.CodeCertificateRevoked, "serial %s: %w", "ab", base))
	if got := egov.ErrorCode(err); got != egov.CodeCertificateRevoked {
		t.Fatalf("got %s", got)
	}
	if !errors.Is(err, base) {
		t.Fatal("cause lost")
	}
	if egov.ErrorCode(nil) != "" || egov.ErrorCode(base) != egov.CodeInternal {
		t.Fatal("nil or foreign error misclassified")
	}
	unknown := egov.Code("no-such-code")
	if unknown.Known() || unknown.HTTPStatus() != http.StatusInternalServerError || unknown.Message() != egov.CodeInternal.Message() {
		t.Fatal("unknown code must read as an internal error")
	}
}

// TestREADMEListsEveryCode keeps the README's table of codes complete.
func TestREADMEListsEveryCode(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range egov.Codes() {
		if !strings.Contains(string(readme), "| `"+string(c)+"` |") {
			t.Errorf("README.md does not list %s", c)
		}
	}
}
