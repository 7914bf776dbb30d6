package counter

import (
	"testing"

	"egov/web"
)

// TestEveryPageTextIsTrilingual: every state of a filing, representative's
// field, region and desk's name the operators' pages name has its words in
// Russian, Kazakh and English (the templates' literal keys are checked by
// web.New).
func TestEveryPageTextIsTrilingual(t *testing.T) {
	// The templates' own keys web.New checks as it parses them; these
	// are the keys the code makes.
	keys := map[string]string{}
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
	pg, err := newOperatorPages(&Workstation{cfg: Config{Desk: StateCorporation}}, PageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for key, where := range keys {
		if !pg.site.HasText(key) {
			t.Errorf("%s: text %q lacks a language", where, key)
		}
	}
}
