package counter

import (
	"strings"
	"testing"
	"unicode/utf8"

	"egov"
	"egov/provider"
	"egov/sms"
)

// Every refusal the labour-market system can give an S2 fits the SMS's
// three UCS-2 segments, and S2's own grounds are told, whole or by their
// first clause.
func TestDecisionTextFitsEveryGround(t *testing.T) {
	rules, err := provider.DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	told := map[string]bool{"not-registered": true, "already-unemployed": true, "labour-activity": true, "underage": true,
		"document-missing": true, "document-expired": true}
	for code, g := range rules.Grounds {
		g := g
		text := decisionText(&Filing{Outcome: "refused", Ground: code, GroundText: &g})
		if n := utf8.RuneCountInString(text); n > sms.MaxText {
			t.Errorf("%s: %d characters", code, n)
		}
		first, _, _ := strings.Cut(g.RU, ":")
		if told[code] && !strings.Contains(text, first) {
			t.Errorf("%s: the ground is not told: %s", code, text)
		}
	}
	if text := decisionText(&Filing{Outcome: "registered", ResultNumber: "UNE-2026-000001", ResultDate: "2026-12-03"}); !strings.Contains(text, "03.12.2026") ||
		utf8.RuneCountInString(text) > sms.MaxText {
		t.Errorf("registered: %s", text)
	}
	long := egov.Message{RU: strings.Repeat("очень длинное основание ", 20), KK: strings.Repeat("өте ұзақ негіз ", 20)}
	if text := decisionText(&Filing{Outcome: "refused", GroundText: &long}); !strings.Contains(text, "причина в ответе") {
		t.Errorf("an overlong ground: %s", text)
	}
}

// The ready notice names the office by its name where it fits, by its code
// where not, and never goes over the segments.
func TestReadyTextFits(t *testing.T) {
	for _, d := range []Desk{StateCorporation, EmploymentCentre} {
		staff, err := d.LoadStaff("")
		if err != nil {
			t.Fatal(err)
		}
		w := &Workstation{cfg: Config{Desk: d, Operators: staff}}
		for _, op := range staff.All() {
			text := w.noticeText(&Filing{Office: op.Office.Code})
			if !strings.Contains(text, op.Office.Name) || utf8.RuneCountInString(text) > sms.MaxText {
				t.Errorf("%s %s: %q", d.Name, op.Office.Code, text)
			}
		}
		long := strings.Repeat("a", 64)
		if text := w.noticeText(&Filing{Office: long}); utf8.RuneCountInString(text) > sms.MaxText {
			t.Errorf("%s: %d characters for a 64-character office code", d.Name, utf8.RuneCountInString(text))
		}
	}
}
