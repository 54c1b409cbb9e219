package status

import (
	"fmt"
	"time"

	"github.com/posagent/posagent/queue"
)

// Payments is the read side of the payment store that the Server shows;
// *queue.Store satisfies it.
type Payments interface {
	Get(req string) (queue.Payment, error)
	Each(f queue.Filter, fn func(*queue.Payment) error) error
	PageJSON(f queue.Filter) (queue.JSONPage, error)
	Unfinished() ([]queue.Payment, error)
	Outbox() ([]queue.Payment, error)
	Stats() (queue.Stats, error)
}

// fillStore completes st with the counts read from store, judging deadlines
// at now. A store that cannot be read leaves the counts at zero and says
// why in st.Error.
func fillStore(st *Store, store Payments, now time.Time) {
	if !st.Open {
		return
	}
	stats, err := store.Stats()
	if err != nil {
		st.Error = fmt.Sprintf("cannot read the store: %v", err)
		return
	}
	st.Pending = stats.Pending
	st.Cancelling = stats.Cancelling
	st.Undelivered = stats.Undelivered
	st.Delivered = stats.Delivered
	st.FollowUp = stats.FollowUp
	unfinished, err := store.Unfinished()
	if err != nil {
		st.Error = fmt.Sprintf("cannot read the store: %v", err)
		return
	}
	for _, p := range unfinished {
		if st.OldestPending.IsZero() || p.AcceptedAt.Before(st.OldestPending) {
			st.OldestPending = p.AcceptedAt
		}
		if p.Deadline.Before(now) {
			st.Overdue++
			if st.OverdueSince.IsZero() || p.Deadline.Before(st.OverdueSince) {
				st.OverdueSince = p.Deadline
			}
		}
	}
	if st.Undelivered == 0 {
		return
	}
	outbox, err := store.Outbox()
	if err != nil {
		st.Error = fmt.Sprintf("cannot read the store: %v", err)
		return
	}
	for _, p := range outbox {
		if st.OldestUndelivered.IsZero() || p.FinishedAt.Before(st.OldestUndelivered) {
			st.OldestUndelivered = p.FinishedAt
		}
	}
}
