package gateway

import (
	"io/fs"
	"os"
	"regexp"
	"testing"

	"egov/web"
)

// TestEveryPageTextIsTrilingual: every text key the templates ask for, and
// every state, kind of message, region and channel the pages name, has its
// words in Russian, Kazakh and English.
func TestEveryPageTextIsTrilingual(t *testing.T) {
	p, err := newPages(nil, PageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	quoted := regexp.MustCompile(`\.T "([a-zA-Z0-9.-]+)"`)
	scan := func(name string, data []byte) {
		for _, m := range quoted.FindAllSubmatch(data, -1) {
			keys[string(m[1])] = name
		}
	}
	templates, _ := fs.Sub(pageTemplates, "pages")
	_ = fs.WalkDir(templates, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := fs.ReadFile(templates, path)
			scan(path, data)
		}
		return nil
	})
	for _, f := range []string{"../web/layout.html", "../web/error.html"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		scan(f, data)
	}
	for _, s := range []State{StateWaitingForRelay, StateRelayed, StateDelivered, StateInProgress, StateCompleted, StateRefused} {
		keys["state."+string(s)] = "states"
	}
	for _, k := range []string{"accepted", "status", "access", "result", "refusal", "handed-out", "registration-ended"} {
		keys["kind."+k] = "cabinet kinds"
	}
	for r := range Regions {
		keys["region."+r] = "regions"
	}
	for _, ch := range channelOrder {
		keys["channel."+ch] = "channels"
	}
	for _, l := range portalNav(&web.Page{}) {
		keys[l.Text] = "menu"
	}
	for _, l := range portalNav(&web.Page{User: "x"}) {
		keys[l.Text] = "menu"
	}
	if len(keys) < 80 {
		t.Fatalf("only %d keys found: the scan is broken", len(keys))
	}
	for key, where := range keys {
		if !p.site.HasText(key) {
			t.Errorf("%s: text %q lacks a language", where, key)
		}
	}
}
