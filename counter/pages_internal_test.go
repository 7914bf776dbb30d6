package counter

import (
	"io/fs"
	"os"
	"regexp"
	"testing"

	"egov/web"
)

// TestEveryPageTextIsTrilingual: every text key the operators' templates
// ask for, every state of a filing and outcome, and the desks' names have
// their words in Russian, Kazakh and English.
func TestEveryPageTextIsTrilingual(t *testing.T) {
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
	data, err := os.ReadFile("../web/layout.html")
	if err != nil {
		t.Fatal(err)
	}
	scan("layout", data)
	for _, s := range []string{StateAccepted, StateSent, StateInProgress, StateReady, StateHandedOut} {
		keys["op.state."+s] = "states"
	}
	for _, f := range []string{"iin", "surname", "givenName", "patronymic", "powerOfAttorney", "notary", "until"} {
		keys["op.rep."+f] = "intake.html"
	}
	for _, to := range []string{"applicant", "representative"} {
		keys["op.to."+to] = "filing.html"
	}
	for _, d := range Desks {
		keys["brand."+d.System] = "desks"
	}
	for _, l := range append(operatorNav(&web.Page{}), operatorNav(&web.Page{User: "x"})...) {
		keys[l.Text] = "menu"
	}
	for _, r := range []string{"almaty-oblast", "east-kazakhstan", "aktobe", "karaganda", "almaty-city"} {
		keys["op.region."+r] = "regions"
	}
	site, err := web.New(web.Options{Brand: "brand." + StateCorporation.System, Texts: operatorTexts}, templates, operatorPageNames...)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 60 {
		t.Fatalf("only %d keys found: the scan is broken", len(keys))
	}
	for key, where := range keys {
		if !site.HasText(key) {
			t.Errorf("%s: text %q lacks a language", where, key)
		}
	}
}
