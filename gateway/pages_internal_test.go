package gateway

import (
	"testing"

	"egov/web"
)

// TestEveryPageTextIsTrilingual: every state, kind of message, region and
// channel the pages name has its words in Russian, Kazakh and English (the
// templates' literal keys are checked by web.New).
func TestEveryPageTextIsTrilingual(t *testing.T) {
	p, err := newPages(nil, PageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The templates' own keys web.New checks as it parses them; these
	// are the keys the code makes.
	keys := map[string]string{}
	for _, s := range []State{StateWaitingForRelay, StateRelayed, StateDelivered, StateInProgress, StateCompleted, StateRefused} {
		keys["state."+string(s)] = "states"
	}
	for _, ev := range []string{"accepted", eventUpdate, eventIgnored, eventRegistrationEnded, eventHandedOut, eventSMSFailed} {
		keys["state."+ev] = "history events"
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
	for key, where := range keys {
		if !p.site.HasText(key) {
			t.Errorf("%s: text %q lacks a language", where, key)
		}
	}
}
