package report

import (
	"testing"
	"time"
)

// cst is the zone of most tests: UTC+8, as in Alipay's home market.
var cst = time.FixedZone("CST", 8*3600)

func TestDayOfTakesTheDateInTheZone(t *testing.T) {
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 11, 29, 15, 59, 59, 999999999, time.UTC), "2026-11-29"},
		{time.Date(2026, 11, 29, 16, 0, 0, 0, time.UTC), "2026-11-30"},
		{time.Date(2026, 11, 30, 15, 59, 59, 0, time.UTC), "2026-11-30"},
		{time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC), "2026-12-01"},
		{time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC), "2027-01-01"},
	}
	for _, tt := range tests {
		d := DayOf(tt.at, cst)
		if d.Date != tt.want || !d.Contains(tt.at) || d.End.Sub(d.Start) != 24*time.Hour {
			t.Errorf("DayOf(%v) = %+v; want %s, 24 hours, containing it", tt.at, d, tt.want)
		}
	}
}

func TestParseDay(t *testing.T) {
	d, err := ParseDay("2026-11-30", cst)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 29, 16, 0, 0, 0, time.UTC); !d.Start.Equal(want) || !d.End.Equal(want.Add(24*time.Hour)) || d.Date != "2026-11-30" || d.Zone() != "CST" {
		t.Errorf("ParseDay = %+v (zone %s); want 2026-11-29T16:00Z for 24 hours in CST", d, d.Zone())
	}
	for _, bad := range []string{"", "yesterday", "2026-11-31", "2026-13-01", "30.11.2026", "2026-11-30T00:00:00Z", " 2026-11-30"} {
		if _, err := ParseDay(bad, cst); err == nil {
			t.Errorf("ParseDay(%q) took it", bad)
		}
	}
}

// zone loads a named time zone, skipping the test where the system has
// no zone database.
func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("no time zone database for %s here: %v", name, err)
	}
	return loc
}

func TestDaysOfAClockChangeHaveTheirTrueLength(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	saoPaulo := zone(t, "America/Sao_Paulo")
	tests := []struct {
		name  string
		loc   *time.Location
		date  string
		start time.Time // UTC
		hours time.Duration
	}{
		{"summer time ends", berlin, "2026-10-25", time.Date(2026, 10, 24, 22, 0, 0, 0, time.UTC), 25},
		{"summer time starts", berlin, "2026-03-29", time.Date(2026, 3, 28, 23, 0, 0, 0, time.UTC), 23},
		// Brazil's clocks jumped from 00:00 to 01:00: the day began at 01:00.
		{"no midnight", saoPaulo, "2018-11-04", time.Date(2018, 11, 4, 3, 0, 0, 0, time.UTC), 23},
		{"the day before no midnight", saoPaulo, "2018-11-03", time.Date(2018, 11, 3, 3, 0, 0, 0, time.UTC), 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDay(tt.date, tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Start.Equal(tt.start) || d.End.Sub(d.Start) != tt.hours*time.Hour || d.Date != tt.date {
				t.Errorf("%s: %v to %v (%v); want from %v for %d hours", tt.date, d.Start, d.End, d.End.Sub(d.Start), tt.start, tt.hours)
			}
			if got := DayOf(d.End.Add(-time.Nanosecond), tt.loc); !got.Start.Equal(d.Start) || got.Date != d.Date {
				t.Errorf("the day's last instant falls on %s", got.Date)
			}
		})
	}
}
