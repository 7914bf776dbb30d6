package egov_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEStaysInsideTheRepository keeps a newcomer's first read inside
// the clone: every document and directory the README names exists here,
// and nothing points outside the repository.
func TestREADMEStaysInsideTheRepository(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	for _, loc := range regexp.MustCompile(`(^|[^.])\.\./`).FindAllStringIndex(text, -1) {
		t.Errorf("README.md points outside the repository: %q", text[max(0, loc[0]-40):min(len(text), loc[1]+40)])
	}
	// Backticked paths of documents and folders, and relative links.
	named := regexp.MustCompile("`((?:[A-Za-z0-9_.-]+/)*[A-Za-z0-9_.-]+(?:\\.md|/))`")
	linked := regexp.MustCompile(`\]\(([^)#:]+)(?:#[^)]*)?\)`)
	var paths []string
	for _, m := range named.FindAllStringSubmatch(text, -1) {
		paths = append(paths, m[1])
	}
	for _, m := range linked.FindAllStringSubmatch(text, -1) {
		paths = append(paths, m[1])
	}
	for _, p := range paths {
		if strings.HasPrefix(p, "data/") || strings.HasPrefix(p, "bin/") {
			continue // created by make run and make build
		}
		if !strings.HasSuffix(p, ".md") && strings.Count(p, "/") == 1 && strings.HasSuffix(p, "/") &&
			!strings.Contains(string(readme), "| `"+p+"` |") {
			continue // a folder named inside a path given nearby (trust/, keys/), not a top-level one
		}
		if _, err := os.Stat(strings.TrimSuffix(p, "/")); err != nil {
			t.Errorf("README.md names %s, which is not in the repository", p)
		}
	}
}
