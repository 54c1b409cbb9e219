package agent

import (
	"testing"
	"time"

	"github.com/posagent/posagent/queue"
)

func TestDecide(t *testing.T) {
	accepted := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC) // 12:00 UTC+8
	deadline := accepted.Add(time.Minute)
	tests := []struct {
		name      string
		state     queue.State
		track     queue.Track
		recovered bool
		at        time.Time
		want      action
	}{
		{"pending before deadline inquires", queue.Pending, queue.Track{}, false, accepted.Add(time.Second), actInquire},
		{"pending at deadline looks before cancelling", queue.Pending, queue.Track{}, false, deadline, actLook},
		{"pending long past deadline still looks first", queue.Pending, queue.Track{}, false, deadline.Add(time.Hour), actLook},
		{"cancelling cancels", queue.Cancelling, queue.Track{}, false, deadline, actCancel},
		{"refused cancel asks inquiry", queue.Cancelling, queue.Track{Refusals: 1, Verify: true}, false, deadline, actVerify},
		{"inquiry answered after refusal cancels again", queue.Cancelling, queue.Track{Refusals: 1}, false, deadline, actCancel},
		{"recovered cancelling payment asks before cancelling", queue.Cancelling, queue.Track{}, true, deadline, actVerify},
		{"recovered pending payment looks at its deadline", queue.Pending, queue.Track{}, true, deadline, actLook},
		{"past the window only inquires", queue.Pending, queue.Track{}, false, accepted.Add(13 * time.Hour), actLate},
		{"cancelling past the window only inquires", queue.Cancelling, queue.Track{}, false, accepted.Add(13 * time.Hour), actLate},
		{"cancel window exceeded only inquires", queue.Cancelling, queue.Track{Refusals: 1, NoCancel: true}, false, deadline, actLate},
		{"window counts from Alipay's create time", queue.Pending, queue.Track{CreatedAt: accepted.Add(-5 * time.Hour)}, false, accepted.Add(13 * time.Hour), actLate},
		{"window from a create time the day before", queue.Pending,
			queue.Track{CreatedAt: time.Date(2026, 11, 29, 15, 0, 0, 0, time.UTC)}, false, accepted.Add(time.Second), actLate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &queue.Payment{State: tt.state, AcceptedAt: accepted, Deadline: deadline, Track: tt.track, Recovered: tt.recovered}
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
