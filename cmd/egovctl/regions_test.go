package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every portal service in every region whose regulation offers it, end to
// end through egovctl up: the answer comes from the system the regulation
// names (АИС «Рынок труда» outside Karaganda, 002:198-202; АРМ РШЭП in
// Karaganda, 003:915-917, 1178-1180, 1950-1952), signed by that
// organisation's authorised person, and is filed in the cabinet; S7 is
// answered both ways. The rounds run in order on one stack: a citizen
// registered as a job seeker by one system is a job seeker of that system
// only.
func TestEveryPortalServiceInEveryRegion(t *testing.T) {
	portal, data := startUp(t, "--attempts-per-minute", "1000")
	const (
		labourBIN = "940140000385" // КГУ «ЦЕНТР ЗАНЯТОСТИ НАСЕЛЕНИЯ»
		deskBIN   = "070540000713" // ГУ «ОТДЕЛ ЗАНЯТОСТИ И СОЦИАЛЬНЫХ ПРОГРАММ ГОРОДА КАРАГАНДЫ»
		adult     = "791028302728"
		assisted  = "900101300811" // his family receives the assistance (fixtures/tsa/families.json)
		employed  = "800515400122" // works under a contract (fixtures/contracts/contracts.json)
	)
	for _, r := range []struct {
		service, region, iin, bin string
		finished                  string // the demo's "finished:" line
		also                      string // a line of the cabinet's result: its kind or ground
	}{
		{"job-seeker-registration", "almaty-city", adult, labourBIN, "finished: completed (registered)", ""},
		{"job-seeker-registration", "almaty-oblast", adult, labourBIN, "finished: refused (refused)", "ground already-registered"},
		{"job-seeker-registration", "east-kazakhstan", adult, labourBIN, "finished: refused (refused)", "ground already-registered"},
		{"job-seeker-registration", "east-kazakhstan", employed, labourBIN, "finished: refused (refused)", "ground labour-activity"},
		{"job-seeker-registration", "aktobe", adult, labourBIN, "finished: refused (refused)", "ground already-registered"},
		{"employment-referral", "aktobe", adult, labourBIN, "finished: completed (referred)", "      employment\n"},
		{"employment-referral", "karaganda", adult, deskBIN, "finished: refused (refused)", "ground not-registered"}, // not АРМ РШЭП's job seeker yet
		{"job-seeker-registration", "karaganda", adult, deskBIN, "finished: completed (registered)", ""},
		{"employment-referral", "karaganda", adult, deskBIN, "finished: completed (referred)", "      employment\n"},
		{"tsa-membership-certificate", "karaganda", adult, deskBIN, "finished: completed (certificate)", "      does-not-belong\n"},
		{"tsa-membership-certificate", "karaganda", assisted, deskBIN, "finished: completed (certificate)", "      belongs\n"},
		// Leaving the register, where the registration is on the portal and
		// by the system that keeps it: the labour market's registration of
		// him, then АРМ РШЭП's.
		{"job-seeker-deregistration", "aktobe", adult, labourBIN, "finished: completed (deregistered)", "ground at-own-request"},
		{"job-seeker-deregistration", "almaty-city", adult, labourBIN, "finished: refused (refused)", "ground not-registered"},
		{"job-seeker-deregistration", "karaganda", adult, deskBIN, "finished: completed (deregistered)", "ground at-own-request"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"demo", "--gateway", "http://" + portal, "--data", data, "--timeout", "30s",
			"--service", r.service, "--region", r.region, "--iin", r.iin}, &out, &errOut)
		name := r.service + " in " + r.region
		if code != 0 || !strings.Contains(out.String(), "The whole journey worked.") {
			t.Fatalf("%s: exit %d\n%s%s", name, code, out.String(), errOut.String())
		}
		for _, want := range []string{r.finished, "for BIN " + r.bin, r.also} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: the demo lacks %q:\n%s", name, want, out.String())
			}
		}
	}
}

// A data directory made before a demo citizen was added gets his keys on
// its next start (the organisations' keys likewise).
func TestUpgradedDataDirectoryGetsTheNewDemoCitizen(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if _, fresh, err := ensureDemoData(dir, &out); err != nil || !fresh {
		t.Fatalf("first start: %v %v", fresh, err)
	}
	added := demoCitizens[len(demoCitizens)-1].iin
	for _, name := range []string{added + "-sign.p12", added + "-auth.p12"} {
		if err := os.Remove(filepath.Join(dir, "citizens", name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(dir, "pki", "keys", regionalDesk.file+".p12")); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if _, fresh, err := ensureDemoData(dir, &out); err != nil || fresh {
		t.Fatalf("second start: %v %v", fresh, err)
	}
	for _, path := range []string{filepath.Join(dir, "citizens", added+"-sign.p12"), filepath.Join(dir, "citizens", added+"-auth.p12"),
		filepath.Join(dir, "pki", "keys", regionalDesk.file+".p12")} {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("after the second start: %v\n%s", err, out.String())
		}
	}
	if !strings.Contains(out.String(), "demo citizens this data directory lacked: 1") {
		t.Errorf("the start did not say what it issued:\n%s", out.String())
	}
}
