package agent

import (
	"testing"
	"time"

	"github.com/posagent/posagent/queue"
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
		if got := cancelWindowEnd(accepted); !got.Equal(want) {
			t.Errorf("cancelWindowEnd(%s) = %s, want %s", tt.accepted, got, want)
		}
	}
}

func TestDecide(t *testing.T) {
	accepted := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC) // 12:00 UTC+8
	deadline := accepted.Add(time.Minute)
	refusedCancel := queue.Event{Call: queue.CallCancel, ResultStatus: "F", Code: "ORDER_IS_CLOSED"}
	unanswered := queue.Event{Call: queue.CallInquiry, Error: "timeout"}
	answered := queue.Event{Call: queue.CallInquiry, ResultStatus: "S", PaymentStatus: "PROCESSING"}
	tests := []struct {
		name  string
		state queue.State
		audit []queue.Event
		at    time.Time
		want  action
	}{
		{"pending before deadline inquires", queue.Pending, nil, accepted.Add(time.Second), actInquire},
		{"pending at deadline cancels", queue.Pending, nil, deadline, actStartCancel},
		{"cancelling cancels", queue.Cancelling, nil, deadline, actCancel},
		{"refused cancel asks inquiry", queue.Cancelling, []queue.Event{refusedCancel}, deadline, actVerify},
		{"refused cancel asks inquiry until answered", queue.Cancelling, []queue.Event{refusedCancel, unanswered}, deadline, actVerify},
		{"answered inquiry after refusal cancels again", queue.Cancelling, []queue.Event{refusedCancel, answered}, deadline, actCancel},
		{"cancel with no answer is repeated", queue.Cancelling, []queue.Event{{Call: queue.CallCancel, ResultStatus: "U", Error: "unknown"}}, deadline, actCancel},
		{"past the window only inquires", queue.Pending, nil, accepted.Add(13 * time.Hour), actLate},
		{"cancelling past the window only inquires", queue.Cancelling, nil, accepted.Add(13 * time.Hour), actLate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &queue.Payment{State: tt.state, AcceptedAt: accepted, Deadline: deadline, Audit: tt.audit}
			if got := decide(p, tt.at); got != tt.want {
				t.Errorf("decide = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDisplayTextCutsTo64CodePointsAndDropsControls(t *testing.T) {
	long := ""
	for range 70 {
		long += "é"
	}
	tests := []struct{ in, want string }{
		{"paid", "paid"},
		{"a\x1cb\nc", "a b c"},
		{long, long[:128]}, // é is two bytes
	}
	for _, tt := range tests {
		if got := displayText(tt.in); got != tt.want {
			t.Errorf("displayText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
