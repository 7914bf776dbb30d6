package gateway_test

import (
	"testing"
	"time"

	"egov"
	"egov/gateway"
)

func almaty(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, egov.Almaty)
	if err != nil {
		panic(err)
	}
	return t
}

func TestWorkingCalendar(t *testing.T) {
	cal, err := gateway.DefaultCalendar()
	if err != nil {
		t.Fatal(err)
	}
	days := map[string]bool{
		"2026-11-24": true,  // Tuesday
		"2026-11-28": false, // Saturday
		"2026-12-16": false, // Independence Day
		"2026-03-09": false, // 8 March fell on a Sunday: Monday off
		"2026-03-24": false, // Nauryz 21–22 on the weekend: 24 and 25 off
		"2026-03-25": false,
		"2026-03-26": true,
		"2026-01-07": false, // Christmas, religious
		"2026-05-11": false, // 9 May on a Saturday
		"2026-05-27": false, // Kurban Ait, religious, no transfer needed
		"2026-08-31": false, // Constitution Day on a Sunday
	}
	for d, want := range days {
		if got := cal.IsWorkingDay(almaty(d + " 12:00")); got != want {
			t.Errorf("%s working = %v, want %v", d, got, want)
		}
	}
	tests := []struct {
		start string
		add   time.Duration
		want  string
	}{
		{"2026-11-24 10:00", 50 * time.Minute, "2026-11-24 10:50"},
		{"2026-11-24 12:30", time.Hour, "2026-11-24 15:00"},              // the lunch break does not count
		{"2026-11-24 18:00", time.Hour, "2026-11-25 09:30"},              // half an hour today, the rest tomorrow
		{"2026-11-24 22:00", 10 * time.Minute, "2026-11-25 09:10"},       // night: from 09:00 next day
		{"2026-11-27 17:00", 7 * time.Hour, "2026-11-30 16:00"},          // Friday → Monday
		{"2026-11-24 10:00", gateway.WorkingDay, "2026-11-25 10:00"},     // one working day
		{"2026-12-15 11:00", gateway.WorkingDay, "2026-12-17 11:00"},     // over Independence Day
		{"2026-03-20 09:00", 2 * gateway.WorkingDay, "2026-03-26 18:30"}, // Nauryz with transfers: 21–25 off
		{"2027-12-31 16:00", gateway.WorkingDay, "2028-01-05 16:00"},     // 1–2 January 2028 on the weekend: 3 and 4 off
	}
	for _, tt := range tests {
		want := almaty(tt.want)
		if got := cal.AddWorkingTime(almaty(tt.start), tt.add); !got.Equal(want) {
			t.Errorf("%s + %v = %s, want %s", tt.start, tt.add, got.In(egov.Almaty).Format("2006-01-02 15:04"), want.Format("2006-01-02 15:04"))
		}
	}
}

func TestCatalogue(t *testing.T) {
	cat, err := gateway.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	_, ch, err := cat.PortalChannel("job-seeker-registration", "east-kazakhstan")
	if err != nil || ch.Term() != gateway.WorkingDay {
		t.Fatalf("declared term: %v %v", ch, err)
	}
	_, ch, err = cat.PortalChannel("job-seeker-registration", "almaty-oblast")
	if err != nil || ch.Term() != 7*time.Hour {
		t.Fatalf("sum of steps: %v %v", ch.Term(), err)
	}
	if _, _, err := cat.PortalChannel("employment-referral", "almaty-city"); err == nil {
		t.Fatal("a region without the regulation is served")
	}
	// Karaganda's portal flow goes to АРМ РШЭП (003:915-917, 1178-1180, 1950-1952).
	for _, code := range []string{"job-seeker-registration", "employment-referral", "tsa-membership-certificate"} {
		if _, ch, err := cat.PortalChannel(code, "karaganda"); err != nil || ch.Recipient != "arm-rshep" {
			t.Errorf("%s in Karaganda goes to %v (%v), want arm-rshep", code, ch, err)
		}
	}
	if _, ch, _ := cat.PortalChannel("job-seeker-registration", "aktobe"); ch.Recipient != "ais-rynok-truda" {
		t.Errorf("S1 in Aktobe goes to %s, want ais-rynok-truda (002)", ch.Recipient)
	}
}

// A term that would end beyond the holiday data is refused, not guessed;
// and the data must reach a year past today, so that nobody is refused.
func TestCalendarEndsWhereItsDataEnds(t *testing.T) {
	cal, err := gateway.DefaultCalendar()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cal.Due(almaty("2028-12-29 12:00"), 2*gateway.WorkingDay); egov.ErrorCode(err) != egov.CodeCalendarExhausted {
		t.Fatalf("a term into 2029: %v, want calendar-exhausted", err)
	}
	if due, err := cal.Due(almaty("2028-12-27 10:00"), gateway.WorkingDay); err != nil || !due.Equal(almaty("2028-12-28 10:00")) {
		t.Fatalf("a term within the data: %v %v", due, err)
	}
	if left := time.Until(cal.Through()); left < 365*24*time.Hour {
		t.Fatalf("the holiday data ends %s, within a year: add the next year to data/holidays.json", cal.Through().Format(time.DateOnly))
	}
}

// The day of acceptance does not count where the regulation says so
// (001:270-272): the term starts at 09:00 of the next working day.
func TestTermRules(t *testing.T) {
	cal, err := gateway.DefaultCalendar()
	if err != nil {
		t.Fatal(err)
	}
	ch := &gateway.Channel{TermWorkingDays: 5, DistrictOfficeExtraWorkingDays: 5, AcceptanceDayNotCounted: true}
	for _, tt := range []struct {
		accepted string
		district bool
		want     string
	}{
		{"2026-11-24 10:00", false, "2026-12-01 18:30"}, // Wednesday 25 to Tuesday 1 December, whole days
		{"2026-11-24 10:00", true, "2026-12-08 18:30"},  // five more at a district office
		{"2026-11-27 17:00", false, "2026-12-04 18:30"}, // Friday: from Monday
	} {
		got, err := ch.Due(cal, almaty(tt.accepted), tt.district)
		if err != nil || !got.Equal(almaty(tt.want)) {
			t.Errorf("accepted %s (district %v): due %s %v, want %s", tt.accepted, tt.district, got.In(egov.Almaty).Format("2006-01-02 15:04"), err, tt.want)
		}
	}
}
