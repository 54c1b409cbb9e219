package report

import (
	"fmt"
	"time"
)

// Day is one calendar day in a time zone: the instants from its first
// midnight up to the next one, not included. A day of a change to or from
// summer time is 23 or 25 hours long.
type Day struct {
	Date  string    // YYYY-MM-DD
	Start time.Time // the first instant of the day, in its zone
	End   time.Time // the first instant of the next day
}

// DayOf returns the day in loc on which instant t falls.
func DayOf(t time.Time, loc *time.Location) Day {
	t = t.In(loc)
	return day(t.Year(), t.Month(), t.Day(), loc)
}

// ParseDay reads a date written YYYY-MM-DD as the day in loc.
func ParseDay(s string, loc *time.Location) (Day, error) {
	t, err := time.Parse(time.DateOnly, s) // the date alone: it may have no midnight in loc
	if err != nil {
		return Day{}, fmt.Errorf("day %q is not a date written YYYY-MM-DD, such as 2026-11-30", s)
	}
	return day(t.Year(), t.Month(), t.Day(), loc), nil
}

// day builds the Day of a date. The end is the next date's first instant,
// not 24 hours on, so that days of a clock change have their true length.
func day(y int, m time.Month, d int, loc *time.Location) Day {
	start := first(y, m, d, loc)
	return Day{Date: start.Format(time.DateOnly), Start: start, End: first(y, m, d+1, loc)}
}

// first returns the first instant of a date in loc: its midnight, or, in a
// zone whose clocks jump forward at midnight so that there is none, the
// instant of the jump. (time.Date gives a midnight that does not exist as
// an hour of the day before.)
func first(y int, m time.Month, d int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	noon := time.Date(y, m, d, 12, 0, 0, 0, loc)
	if t.YearDay() != noon.YearDay() {
		if _, next := t.ZoneBounds(); !next.IsZero() {
			t = next
		}
	}
	return t
}

// Contains reports whether instant t falls on d.
func (d Day) Contains(t time.Time) bool {
	return !t.Before(d.Start) && t.Before(d.End)
}

// Zone is the name of the day's time zone at its start ("CET", "+08").
func (d Day) Zone() string {
	name, _ := d.Start.Zone()
	return name
}
