package gateway

import (
	"encoding/json"
	"fmt"
	"time"

	"egov"
)

// Calendar counts working time the way the regulations do: Monday to
// Friday, 09:00–18:30 with a break 13:00–14:30 (8 working hours a day),
// public holidays off (a holiday on a weekend moves the day off to the next
// working day, religious ones excepted), in Asia/egov.Almaty.
type Calendar struct {
	daysOff     map[string]bool // YYYY-MM-DD
	workingDays map[string]bool // decreed working Saturdays
	// through is the last day the data covers: holidays beyond it are
	// not known, so no term may end after it.
	through time.Time
}

// WorkingDay is the length of a working day in working time.
const WorkingDay = 8 * time.Hour

type holidayFile struct {
	Holidays []struct {
		Date     string `json:"date"`
		Name     string `json:"name"`
		Transfer *bool  `json:"transfer"`
	} `json:"holidays"`
	ExtraDaysOff []string `json:"extraDaysOff"`
	WorkingDays  []string `json:"workingDays"`
	// Through is the last day the file's data covers (YYYY-MM-DD).
	Through string `json:"through"`
}

// ParseCalendar reads the holiday data file.
func ParseCalendar(data []byte) (*Calendar, error) {
	var f holidayFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("holidays: %w", err)
	}
	c := &Calendar{daysOff: map[string]bool{}, workingDays: map[string]bool{}}
	through, err := time.ParseInLocation(time.DateOnly, f.Through, egov.Almaty)
	if err != nil {
		return nil, fmt.Errorf("holidays: \"through\" (the last day the data covers): %w", err)
	}
	c.through = through.AddDate(0, 0, 1) // the end of that day
	for _, d := range f.WorkingDays {
		c.workingDays[d] = true
	}
	var transfers []time.Time
	for _, h := range f.Holidays {
		day, err := time.ParseInLocation(time.DateOnly, h.Date, egov.Almaty)
		if err != nil {
			return nil, fmt.Errorf("holidays: %q: %w", h.Date, err)
		}
		c.daysOff[h.Date] = true
		weekend := day.Weekday() == time.Saturday || day.Weekday() == time.Sunday
		if weekend && (h.Transfer == nil || *h.Transfer) {
			transfers = append(transfers, day)
		}
	}
	for _, d := range f.ExtraDaysOff {
		c.daysOff[d] = true
	}
	// Each transferred holiday takes the next day that is neither a
	// weekend nor already off.
	for _, day := range transfers {
		for d := day.AddDate(0, 0, 1); ; d = d.AddDate(0, 0, 1) {
			key := d.Format(time.DateOnly)
			if d.Weekday() != time.Saturday && d.Weekday() != time.Sunday && !c.daysOff[key] {
				c.daysOff[key] = true
				break
			}
		}
	}
	return c, nil
}

// Through is the end of the last day the calendar's data covers.
func (c *Calendar) Through() time.Time { return c.through }

// Due returns the moment term of working time has passed after start,
// refused with calendar-exhausted when it would end beyond the data: a
// day off decreed for that year is not known, so the date would be a
// guess.
func (c *Calendar) Due(start time.Time, term time.Duration) (time.Time, error) {
	due := c.AddWorkingTime(start, term)
	if !due.Before(c.through) {
		return time.Time{}, egov.Errorf(egov.CodeCalendarExhausted, "a term from %s ends after %s, the last day of the holiday data",
			start.In(egov.Almaty).Format(time.DateOnly), c.through.AddDate(0, 0, -1).Format(time.DateOnly))
	}
	return due, nil
}

// NextWorkingDayStart is 09:00 of the first working day after t's.
func (c *Calendar) NextWorkingDayStart(t time.Time) time.Time {
	t = t.In(egov.Almaty)
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, egov.Almaty).AddDate(0, 0, 1)
	for !c.IsWorkingDay(d) {
		d = d.AddDate(0, 0, 1)
	}
	return d.Add(9 * time.Hour)
}

// IsWorkingDay reports whether the egov.Almaty calendar day of t is worked.
func (c *Calendar) IsWorkingDay(t time.Time) bool {
	t = t.In(egov.Almaty)
	key := t.Format(time.DateOnly)
	if c.workingDays[key] {
		return true
	}
	if c.daysOff[key] {
		return false
	}
	return t.Weekday() != time.Saturday && t.Weekday() != time.Sunday
}

// working periods of a day, as offsets from midnight.
var periods = [][2]time.Duration{
	{9 * time.Hour, 13 * time.Hour},
	{14*time.Hour + 30*time.Minute, 18*time.Hour + 30*time.Minute},
}

// AddWorkingTime returns the moment when d of working time has passed
// after start. Time outside working hours does not count; a request filed
// at night starts counting at 09:00 of the next working day.
func (c *Calendar) AddWorkingTime(start time.Time, d time.Duration) time.Time {
	t := start.In(egov.Almaty)
	for day := 0; day < 3660; day++ {
		midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, egov.Almaty)
		if c.IsWorkingDay(midnight) {
			for _, p := range periods {
				from, to := midnight.Add(p[0]), midnight.Add(p[1])
				if t.After(from) {
					from = t
				}
				if !from.Before(to) {
					continue
				}
				if left := to.Sub(from); d <= left {
					return from.Add(d)
				} else {
					d -= left
				}
			}
		}
		t = midnight.AddDate(0, 0, 1)
	}
	return t // unreachable for any term of the regulations
}
