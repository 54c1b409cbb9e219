package alipay

import (
	"testing"
	"time"
)

func TestCancelWindowEndsAtQuarterPastMidnightUTC8NextDay(t *testing.T) {
	tests := []struct {
		accepted string
		want     string
	}{
		{"2026-11-30T12:00:00Z", "2026-11-30T16:15:00Z"}, // 20:00 UTC+8 -> next day 00:15 UTC+8
		{"2026-11-30T15:59:59Z", "2026-11-30T16:15:00Z"}, // 23:59:59 UTC+8
		{"2026-11-30T16:00:00Z", "2026-12-01T16:15:00Z"}, // 00:00 UTC+8 on Dec 1
		{"2026-12-31T20:00:00Z", "2027-01-01T16:15:00Z"}, // over a year's end
	}
	for _, tt := range tests {
		accepted, _ := time.Parse(time.RFC3339, tt.accepted)
		want, _ := time.Parse(time.RFC3339, tt.want)
		if got := CancelWindowEnd(accepted); !got.Equal(want) {
			t.Errorf("CancelWindowEnd(%s) = %s, want %s", tt.accepted, got, want)
		}
	}
}
