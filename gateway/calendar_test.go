package gateway_test

import (
	"testing"
	"time"

	"egov/gateway"
)

func almaty(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, gateway.Almaty)
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
	}
	for _, tt := range tests {
		want := almaty(tt.want)
		if got := cal.AddWorkingTime(almaty(tt.start), tt.add); !got.Equal(want) {
			t.Errorf("%s + %v = %s, want %s", tt.start, tt.add, got.In(gateway.Almaty).Format("2006-01-02 15:04"), want.Format("2006-01-02 15:04"))
		}
	}
}

func TestCatalogue(t *testing.T) {
	cat, err := gateway.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Services) != 12 {
		t.Fatalf("%d services, want the 12 of SPEC §2", len(cat.Services))
	}
	_, sch, err := cat.PortalSchedule("job-seeker-registration", "east-kazakhstan")
	if err != nil || sch.Term() != gateway.WorkingDay {
		t.Fatalf("declared term: %v %v", sch, err)
	}
	_, sch, err = cat.PortalSchedule("job-seeker-registration", "almaty-oblast")
	if err != nil || sch.Term() != 7*time.Hour {
		t.Fatalf("sum of steps: %v %v", sch.Term(), err)
	}
	if _, _, err := cat.PortalSchedule("child-benefit", "karaganda"); err == nil {
		t.Fatal("an office-only service has a portal schedule")
	}
	if _, _, err := cat.PortalSchedule("employment-referral", "almaty-city"); err == nil {
		t.Fatal("a region without the regulation is served")
	}
}
