package status

import "time"

// Snapshot is the agent's state at one instant, as the status page, /api/status,
// /healthz and /metrics show it. The agent builds a fresh one for every request;
// a Snapshot is a copy and never changes after it is returned.
type Snapshot struct {
	Version string    `json:"version"`
	Started time.Time `json:"started"` // when the agent started
	Taken   time.Time `json:"taken"`   // when this snapshot was made

	// Payments accepted from the register and made final since the agent
	// started; the agent fills them.
	Accepted uint64 `json:"accepted"`
	Finished uint64 `json:"finished"`

	Link   Link   `json:"link"`
	Alipay Alipay `json:"alipay"`
	Store  Store  `json:"store"`

	// Reconciliation is the last `posagent reconcile`; nil before the
	// first. The Server fills it from the store.
	Reconciliation *Reconciliation `json:"reconciliation,omitempty"`
}

// Uptime is how long the agent had been running when s was taken.
func (s Snapshot) Uptime() time.Duration {
	if s.Started.IsZero() {
		return 0
	}
	return s.Taken.Sub(s.Started)
}

// Link is the state of the serial link to the register.
type Link struct {
	Port   string    `json:"port"`             // as configured: a device name or "auto"
	Device string    `json:"device,omitempty"` // the device open now, or last open
	USB    string    `json:"usb,omitempty"`    // its USB identity, VID:PID[:SERIAL], where known
	Up     bool      `json:"up"`               // the port is open and the register answers
	Since  time.Time `json:"since"`            // when Up last changed
	Error  string    `json:"error,omitempty"`  // why the link is down, when it is

	// Counters since the agent started.
	FramesIn  uint64 `json:"frames_in"`
	FramesOut uint64 `json:"frames_out"`
	NAKsIn    uint64 `json:"naks_in"`  // NAKs the register sent us
	NAKsOut   uint64 `json:"naks_out"` // NAKs we sent the register
	Resends   uint64 `json:"resends"`  // data frames sent again for want of an ACK
}

// Alipay is what the agent knows of its connection to Alipay.
type Alipay struct {
	Endpoint string `json:"endpoint"`
	ClientID string `json:"client_id"`

	// Reachable is true when the last call got a verified answer from
	// Alipay, whatever that answer said.
	Reachable bool      `json:"reachable"`
	LastCall  time.Time `json:"last_call"` // zero before the first call

	// OperatorProblem is empty unless something only a person can fix
	// stands in the way of payments: Alipay refuses the credentials, knows
	// none of the register's payments, or answers with signatures that do
	// not verify. It then says what and what to check.
	OperatorProblem string `json:"operator_problem,omitempty"`

	// ClockOffsetSeconds is how far the terminal's clock is ahead of
	// Alipay's (negative: behind), shown only when it is more than 2
	// minutes either way; zero otherwise.
	ClockOffsetSeconds float64 `json:"clock_offset_seconds,omitempty"`
	// MeasuredClockOffsetSeconds is that offset as last measured, however
	// small, for /metrics; zero before the first verified answer.
	MeasuredClockOffsetSeconds float64 `json:"measured_clock_offset_seconds"`

	// Errors are the last few failed calls, newest first.
	Errors []CallError `json:"errors"`
}

// CallError is one Alipay call that did not get a usable answer.
type CallError struct {
	Time    time.Time `json:"time"`
	Call    string    `json:"call"`              // inquiry or cancel
	Request string    `json:"request,omitempty"` // the paymentRequestId asked about
	Outcome string    `json:"outcome"`           // the class of failure
	Message string    `json:"message"`
}

// Store is the state of the payment store. The agent fills Open, Path and
// Error; the Server fills the counts from the store itself.
type Store struct {
	Open  bool   `json:"open"`
	Path  string `json:"path"`
	Error string `json:"error,omitempty"` // why it is not open, or cannot be read

	// Fault names what stops the store from taking new payments while it
	// lasts: one of StoreFaults. Problem says what happened and what to
	// do. Both are empty when the store is well.
	Fault   string `json:"fault,omitempty"`
	Problem string `json:"problem,omitempty"`
	// FreeBytes is the free space of the store's file system, where the
	// platform tells it; nil where it does not.
	FreeBytes *uint64 `json:"free_bytes,omitempty"`

	Pending     int `json:"pending"`     // being asked about
	Cancelling  int `json:"cancelling"`  // being cancelled
	Undelivered int `json:"undelivered"` // final, waiting for the register's DONE (the outbox)
	Delivered   int `json:"delivered"`   // final and confirmed, kept for audit
	FollowUp    int `json:"follow_up"`   // flagged for a person to look at

	// OldestPending is when the oldest payment that is not final yet was
	// accepted; zero when there is none.
	OldestPending time.Time `json:"oldest_pending"`
	// Overdue counts the payments not final yet whose deadline has passed,
	// and OverdueSince is the earliest of those deadlines; zero when there
	// is none.
	Overdue      int       `json:"overdue"`
	OverdueSince time.Time `json:"overdue_since,omitzero"`
	// OldestUndelivered is when the oldest result still waiting for the
	// register's DONE was made final; zero when there is none.
	OldestUndelivered time.Time `json:"oldest_undelivered,omitzero"`
	// Errors counts the reads and commits of the store that failed since
	// the agent started; the agent fills it.
	Errors uint64 `json:"errors"`

	// Salvages are the salvages of a damaged store file that still need a
	// person: each stays until its damaged file is moved away.
	Salvages []Salvage `json:"salvages"`
}

// StoreFaults are the values Store.Fault takes: too little free space, a
// read-only file system, the store file removed (and not written back
// yet), replaced by another file, or commits failing for another reason.
func StoreFaults() []string {
	return []string{"disk_full", "read_only", "file_removed", "file_replaced", "write_failed", "damaged"}
}

// Salvage is one salvage of a damaged store file, as the agent reports it.
type Salvage struct {
	Time      time.Time `json:"time"`
	MovedTo   string    `json:"moved_to"`  // where the damaged file is kept
	Problem   string    `json:"problem"`   // what the integrity check found
	Saved     int       `json:"saved"`     // payments copied into the fresh file
	Recovered []string  `json:"recovered"` // unfinished payments brought back, flagged for follow-up
	Lost      []string  `json:"lost"`      // payments known to exist that could not be saved
	// LostCount counts the lost payments, Lost listing at most 100 of them.
	LostCount int    `json:"lost_count"`
	BadPages  int    `json:"bad_pages"` // pages unreadable; their payments are lost untraced
	Report    string `json:"report"`    // the whole report
}
