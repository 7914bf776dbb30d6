package gateway_test

import (
	"slices"
	"sort"
	"testing"
	"time"

	"egov/gateway"
)

// The figures below are copied from spec/regulations.md §2-§3 and checked
// against the seed lines named in each row, independently of
// data/catalogue.json: the point is that a wrong catalogue fails here.
//
// Conventions (docs/catalogue-notes.md): a working day is gateway.WorkingDay; the
// happy path is summed (refusal branches such as "P4: data cannot be
// obtained" or "P7: reasoned refusal" are left out); a portal channel whose
// seed gives no portal durations carries that seed's provider steps;
// declared is the term the seed declares (0: none, the steps' sum is the
// term).

const wd = gateway.WorkingDay

func TestCatalogueAgainstTheRegulations(t *testing.T) {
	cat, err := gateway.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		code, region, channel string
		steps                 time.Duration
		declared              int  // termWorkingDays
		district              int  // districtOfficeExtraWorkingDays
		dayNotCounted         bool // acceptanceDayNotCounted
		lines                 string
	}{
		// S1 Регистрация лиц, ищущих работу
		{"job-seeker-registration", "almaty-oblast", "provider", 7 * time.Hour, 0, 0, false, "000:101-120: 20+20 min, 5 h, 1 h, 20 min"},
		{"job-seeker-registration", "almaty-oblast", "state-corporation", 13*time.Hour + 40*time.Minute, 0, 0, false, "000:141-155: 20 min + 3 h + п.5 (7 h) + 3 h + 20 min"},
		{"job-seeker-registration", "almaty-oblast", "portal", 7 * time.Hour, 0, 0, false, "000:156-169: no portal durations; provider steps 000:101-120"},
		{"job-seeker-registration", "east-kazakhstan", "provider", 7*time.Hour + 10*time.Minute, 1, 0, false, "001:545-566: 30+20 min, 4 h, 2 h, 20 min; 1 wd"},
		{"job-seeker-registration", "east-kazakhstan", "state-corporation", 7*time.Hour + 30*time.Minute, 1, 0, false, "001:653-680: 30+20 min, 4 h, 2 h, 20+20 min; 1 wd"},
		{"job-seeker-registration", "east-kazakhstan", "portal", 6 * time.Hour, 1, 0, false, "001:618-652: 5+15+20+10 min, 5 h, 10 min; 1 wd"},
		{"job-seeker-registration", "aktobe", "provider", 25 * time.Minute, 0, 0, false, "002:308-342: 5 × 5 min"},
		{"job-seeker-registration", "aktobe", "portal", 25 * time.Minute, 0, 0, false, "002:358-405: no portal durations; provider steps 002:308-342"},
		{"job-seeker-registration", "karaganda", "provider", 10 * time.Minute, 0, 0, false, "003:1862-1887: 2+2+3+2+1 min"},
		{"job-seeker-registration", "karaganda", "portal", 10 * time.Minute, 0, 0, false, "003:1923-1965: no portal durations; provider steps 003:1862-1887"},
		{"job-seeker-registration", "almaty-city", "provider", 50 * time.Minute, 0, 0, false, "004:325-333 (KZ 004:55-63): 25+5+10+10 min"},
		{"job-seeker-registration", "almaty-city", "state-corporation", 28 * time.Minute, 0, 0, false, "004:368-388 (KZ 004:98-118): 2+1+2+2+1+10+5 min, + 5 min п.10"},
		{"job-seeker-registration", "almaty-city", "portal", 50 * time.Minute, 0, 0, false, "004:390-408: no portal durations; provider steps 004:325-333"},

		// S2 Регистрация лиц, ищущих работу, в качестве безработных
		{"unemployed-registration", "almaty-oblast", "employment-centre", wd + 8*time.Hour, 0, 0, false, "000:227-249: 30 min, 3 h, 1 wd, 4 h, 30 min"},
		{"unemployed-registration", "east-kazakhstan", "employment-centre", wd + 5*time.Hour + 40*time.Minute, 2, 0, false, "001:815-846: 30+20 min, 1 h, 1 h, 1 wd, 2 h 30 min, 20 min; 2 wd from the decision"},
		{"unemployed-registration", "aktobe", "provider", 25 * time.Minute, 0, 0, false, "002:487-518: 5 × 5 min"},
		{"unemployed-registration", "karaganda", "provider", 10 * time.Minute, 0, 0, false, "003:2040-2065: 2+2+3+2+1 min"},
		{"unemployed-registration", "almaty-city", "employment-centre", 3*wd + 17*time.Minute, 0, 0, false, "004:484-492 (KZ 004:212-220): 15+2 min, 2 wd, 1 wd"},

		// S3 Выдача справки о регистрации в качестве безработного
		{"unemployed-certificate", "almaty-oblast", "provider", 7 * time.Hour, 0, 0, false, "000:317-339: 20+20 min, 5 h, 1 h, 20 min"},
		{"unemployed-certificate", "east-kazakhstan", "provider", 3*time.Hour + 30*time.Minute, 1, 0, false, "001:979-999: 20+10+60+20+20+60+20 min; 1 wd"},

		// S4 Выдача направлений на участие в активных мерах содействия занятости
		{"employment-referral", "aktobe", "provider", 30 * time.Minute, 0, 0, false, "002:121-153: 5+5+10+5+5 min"},
		{"employment-referral", "aktobe", "portal", 30 * time.Minute, 0, 0, false, "002:171-218: no portal durations; provider steps 002:121-153"},
		{"employment-referral", "karaganda", "provider", 30 * time.Minute, 0, 0, false, "003:1094-1116 (= 003:2168-2190): 2+5+20+2+1 min"},
		{"employment-referral", "karaganda", "portal", 30 * time.Minute, 0, 0, false, "003:1149-1189: no portal durations; provider steps 003:1094-1116"},

		// S5 Назначение государственной адресной социальной помощи
		{"targeted-social-assistance", "karaganda", "provider", 6*wd + 90*time.Minute, 0, 0, false, "003:118-146: 15 min, 1 wd, 5 wd, 1 h, 15 min"},
		{"targeted-social-assistance", "karaganda", "akim", 17*wd + 105*time.Minute, 0, 0, false, "003:147-199: 15 min, 1, 8, 1 wd, 15 min, 1, 5 wd, 1 h, 15 min, 1 wd"},
		{"targeted-social-assistance", "karaganda", "state-corporation", 6*gateway.WorkingDay + 1*time.Hour + 43*time.Minute, 0, 0, false, "003:277-323: 2+1+2+2+1+1+1+1+2 min (G-A)"},

		// S6 Назначение государственного пособия на детей до восемнадцати лет
		{"child-benefit", "karaganda", "provider", 6*wd + 90*time.Minute, 0, 0, false, "003:420-448"},
		{"child-benefit", "karaganda", "akim", 17*wd + 105*time.Minute, 0, 0, false, "003:449-501"},
		{"child-benefit", "karaganda", "state-corporation", 6*gateway.WorkingDay + 1*time.Hour + 43*time.Minute, 0, 0, false, "003:578-623 (G-A)"},

		// S7 Справка о принадлежности к получателям АСП
		{"tsa-membership-certificate", "karaganda", "provider", 15 * time.Minute, 0, 0, false, "003:735-754: 5 × 3 min"},
		{"tsa-membership-certificate", "karaganda", "akim", 15 * time.Minute, 0, 0, false, "003:755-777: 5 × 3 min"},
		{"tsa-membership-certificate", "karaganda", "state-corporation", 28 * time.Minute, 0, 0, false, "003:835-880 (G-A)"},
		{"tsa-membership-certificate", "karaganda", "portal", 15 * time.Minute, 0, 0, false, "003:885-927: no portal durations; provider steps 003:735-754"},

		// S8, S9 Оформление документов на специальные социальные услуги
		{"special-social-services-institution", "karaganda", "provider", 16*wd + 2*time.Hour, 0, 0, false, "003:1281-1304: 30 min, 1 wd, 15 wd, 1 h, 30 min"},
		{"special-social-services-home", "karaganda", "provider", 13*wd + 2*time.Hour, 0, 0, false, "003:1422-1445: 30 min, 1 wd, 12 wd, 1 h, 30 min"},

		// S10 Социальная помощь на приобретение топлива
		{"rural-specialist-fuel-aid", "karaganda", "provider", 9*wd + 90*time.Minute, 0, 0, false, "003:1561-1585: 15 min, 1 wd, 8 wd, 1 h, 15 min"},
		{"rural-specialist-fuel-aid", "karaganda", "akim", 14*wd + 105*time.Minute, 0, 0, false, "003:1586-1630 (п.5; п.7 003:1686-1687 says 1 wd for the head's 1 h)"},
		{"rural-specialist-fuel-aid", "karaganda", "state-corporation", 9*gateway.WorkingDay + 1*time.Hour + 43*time.Minute, 0, 0, false, "003:1705-1750 (G-A)"},

		// S11 Оралман мәртебесін беру немесе ұзарту
		{"oralman-status", "east-kazakhstan", "provider", 5*wd + 30*time.Minute, 5, 0, false, "001:160-183: 30 min, 1, 2, 1, 1 wd; 5 wd"},
		{"oralman-status", "east-kazakhstan", "state-corporation", 8*wd + 75*time.Minute, 5, 5, true, "001:233-272: 15 min, 2 wd, 30 min, 1, 1 wd, 30 min, 1, 3 wd; 5 wd, +5 wd district GK, day of acceptance not counted"},

		// S12 Ақталған адамға куәлік беру
		{"rehabilitated-certificate", "east-kazakhstan", "state-corporation", 5*wd + 50*time.Minute, 5, 0, false, "001:439-466: 15 min, 1 wd, 15 min, 2, 1, 1 wd, 20 min; 5 wd"},

		// S13 and S14 (001:51-69): the regulation gives no steps and no
		// term; their channels carry a note saying so, and no term.
		{"nuclear-test-victims-compensation", "east-kazakhstan", "state-corporation", 0, 0, 0, false, "001:55-60: «по графику выплаты компенсации»"},
		{"disability-aids-provision", "east-kazakhstan", "provider", 0, 0, 0, false, "001:61-69: the result only"},
	}
	for _, r := range rows {
		svc, err := cat.Lookup(r.code)
		if err != nil {
			t.Errorf("%s: %v", r.code, err)
			continue
		}
		reg := svc.Regions[r.region]
		if reg == nil {
			t.Errorf("%s %s: region missing (%s)", r.code, r.region, r.lines)
			continue
		}
		ch := reg.Channels[r.channel]
		if ch == nil {
			t.Errorf("%s %s %s: channel missing (%s)", r.code, r.region, r.channel, r.lines)
			continue
		}
		if got := ch.StepsTotal(); got != r.steps {
			t.Errorf("%s %s %s: steps' sum %v, the regulation %v (%s)", r.code, r.region, r.channel, got, r.steps, r.lines)
		}
		if ch.TermWorkingDays != r.declared {
			t.Errorf("%s %s %s: declared term %d wd, the regulation %d (%s)", r.code, r.region, r.channel, ch.TermWorkingDays, r.declared, r.lines)
		}
		if ch.DistrictOfficeExtraWorkingDays != r.district {
			t.Errorf("%s %s %s: district office +%d wd, the regulation +%d (%s)", r.code, r.region, r.channel, ch.DistrictOfficeExtraWorkingDays, r.district, r.lines)
		}
		if ch.AcceptanceDayNotCounted != r.dayNotCounted {
			t.Errorf("%s %s %s: acceptance day not counted %v, the regulation %v (%s)", r.code, r.region, r.channel, ch.AcceptanceDayNotCounted, r.dayNotCounted, r.lines)
		}
	}
}

func TestCatalogueChannelsPerRegion(t *testing.T) {
	cat, err := gateway.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	const (
		P  = "portal"
		GK = "state-corporation"
		PR = "provider"
		C  = "employment-centre"
		A  = "akim"
	)
	want := map[string]map[string]struct {
		channels []string
		lines    string
	}{
		"job-seeker-registration": {
			"almaty-oblast":   {[]string{P, PR, GK}, "000:78-86"},
			"east-kazakhstan": {[]string{P, PR, GK}, "001:517-522"},
			"aktobe":          {[]string{P, PR}, "002:276-279 (no State Corporation)"},
			"karaganda":       {[]string{P, PR}, "003:1843-1846 (no State Corporation)"},
			"almaty-city":     {[]string{P, PR, GK}, "004:308-314"},
		},
		"unemployed-registration": {
			"almaty-oblast":   {[]string{C}, "000:207-208"},
			"east-kazakhstan": {[]string{C}, "001:792-793"},
			"aktobe":          {[]string{PR}, "002:461-462"},
			"karaganda":       {[]string{PR}, "003:2024-2025, 003:2101-2102"},
			"almaty-city":     {[]string{C}, "004:471, 004:525"},
		},
		"unemployed-certificate": {
			"almaty-oblast":   {[]string{PR}, "000:301-302"},
			"east-kazakhstan": {[]string{PR}, "001:960-961"},
		},
		"employment-referral": {
			"aktobe":    {[]string{P, PR}, "002:89-92"},
			"karaganda": {[]string{P, PR}, "003:1069-1072"},
		},
		"targeted-social-assistance":          {"karaganda": {[]string{GK, PR, A}, "003:97-103"}},
		"child-benefit":                       {"karaganda": {[]string{GK, PR, A}, "003:399-404"}},
		"tsa-membership-certificate":          {"karaganda": {[]string{GK, PR, A, P}, "003:706-716"}},
		"special-social-services-institution": {"karaganda": {[]string{PR}, "003:1260-1261, 003:1345-1346"}},
		"special-social-services-home":        {"karaganda": {[]string{PR}, "003:1400-1401, 003:1487-1488"}},
		"rural-specialist-fuel-aid":           {"karaganda": {[]string{GK, PR, A}, "003:1540-1546"}},
		"oralman-status":                      {"east-kazakhstan": {[]string{PR, GK}, "001:139-143"}},
		"rehabilitated-certificate":           {"east-kazakhstan": {[]string{GK}, "001:341-344"}},
		// Amendments only: the State Corporation acts in 001:57-60; 001:61-69
		// names no channel, the provider is assumed (docs/catalogue-notes.md).
		"nuclear-test-victims-compensation": {"east-kazakhstan": {[]string{GK}, "001:51-60"}},
		"disability-aids-provision":         {"east-kazakhstan": {[]string{PR}, "001:61-69"}},
	}
	ofTheRegulations := 0
	for _, s := range cat.Services {
		if s.Follows == "" {
			ofTheRegulations++
		}
	}
	if ofTheRegulations != len(want) {
		t.Errorf("catalogue has %d services of the regulations, the regulations %d", ofTheRegulations, len(want))
	}
	for code, regions := range want {
		svc, err := cat.Lookup(code)
		if err != nil {
			t.Errorf("%s: %v", code, err)
			continue
		}
		var gotRegions []string
		for r := range svc.Regions {
			gotRegions = append(gotRegions, r)
		}
		sort.Strings(gotRegions)
		var wantRegions []string
		for r := range regions {
			wantRegions = append(wantRegions, r)
		}
		sort.Strings(wantRegions)
		if !slices.Equal(gotRegions, wantRegions) {
			t.Errorf("%s: regions %v, the regulations %v", code, gotRegions, wantRegions)
		}
		for region, w := range regions {
			reg := svc.Regions[region]
			if reg == nil {
				continue
			}
			var got []string
			for ch := range reg.Channels {
				got = append(got, ch)
			}
			sort.Strings(got)
			exp := slices.Clone(w.channels)
			sort.Strings(exp)
			if !slices.Equal(got, exp) {
				t.Errorf("%s %s: channels %v, the regulation %v (%s)", code, region, got, exp, w.lines)
			}
		}
	}
}

// Leaving the register of job seekers is not in the seeds: it is provided
// where and as the registration is on the portal, by the same system.
func TestDeregistrationFollowsTheRegistration(t *testing.T) {
	cat, err := gateway.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := cat.Lookup("job-seeker-registration")
	end, err := cat.Lookup("job-seeker-deregistration")
	if err != nil || end.Follows != reg.Code {
		t.Fatalf("job-seeker-deregistration: %v, follows %q", err, end.Follows)
	}
	if len(end.Regions) != len(reg.Regions) {
		t.Errorf("regions %d, the registration's %d", len(end.Regions), len(reg.Regions))
	}
	for region, r := range reg.Regions {
		e := end.Regions[region]
		if e == nil {
			t.Errorf("%s: not provided", region)
			continue
		}
		want, got := r.Channels[gateway.ChannelPortal], e.Channels[gateway.ChannelPortal]
		if e.Seed != r.Seed || e.Lines != r.Lines || got.Term() != want.Term() || got.Lines != want.Lines ||
			got.AcceptanceDayNotCounted != want.AcceptanceDayNotCounted || got.Recipient != want.Recipient {
			t.Errorf("%s: %s %s term %v to %s, the registration's %s %s term %v to %s", region, e.Seed, got.Lines, got.Term(), got.Recipient,
				r.Seed, want.Lines, want.Term(), want.Recipient)
		}
		if len(e.Channels) != 1 {
			t.Errorf("%s: channels %v, the portal only", region, e.Channels)
		}
	}
	if got := end.Regions["karaganda"].Channels[gateway.ChannelPortal].BusService; got != "arm-rshep.job-seeker-deregistration" {
		t.Errorf("Karaganda's requests go under %q", got)
	}
}
