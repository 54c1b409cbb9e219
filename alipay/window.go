package alipay

import "time"

// zone is the time zone Alipay counts its cancel window in (UTC+8).
var zone = time.FixedZone("UTC+8", 8*60*60)

// ShortestCancelWindow is the least time between a payment's creation and
// the end of its cancel window (CancelWindowEnd): a payment created just
// before midnight UTC+8 can be cancelled until 00:15 UTC+8, 15 minutes on.
const ShortestCancelWindow = 15 * time.Minute

// CancelWindowEnd returns the last instant at which Alipay still takes a
// cancel of a payment created at created: 00:15 UTC+8 of the following day.
// Past it a cancel is refused with CANCEL_WINDOW_EXCEED, and only a refund,
// made by a person, gives the money back.
func CancelWindowEnd(created time.Time) time.Time {
	t := created.In(zone)
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 15, 0, 0, zone).UTC()
}
