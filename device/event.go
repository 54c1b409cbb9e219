package device

import (
	"errors"
	"time"
)

// Event is something the line reports to its owner: one of Received, Invalid,
// HelloDone, LinkUp, LinkDown and OpenFailed.
type Event interface{ event() }

// Received is an application message from the peer. Its frame has been
// acknowledged already, and a resent duplicate is never reported twice.
type Received struct{ Msg Message }

// Invalid is a data frame from the peer whose fields break the protocol's
// rules. It has been acknowledged; the agent answers a PAY with STATUS
// REJECTED INVALID_FIELD, msg Err.Error() and req Req.
type Invalid struct {
	Type byte   // frame TYPE letter
	Req  string // the req as received, cut to 64 characters (see RequestID)
	Err  *InvalidFieldError
}

// HelloDone reports a completed HELLO exchange: the HELLO this side sent
// right after opening the port was acknowledged, or the peer sent a HELLO
// with a boot not seen since the port was opened. The agent resends every
// RESULT the register has not confirmed.
type HelloDone struct {
	Peer Hello // the peer's last HELLO since the port was opened; zero if none came yet
}

// LinkUp reports that the port was opened and the session started.
type LinkUp struct {
	Port string // the device opened
	USB  string // its USB identity, VID:PID[:SERIAL]; "" when not a USB adapter or not known
}

// LinkDown reports the end of a session: the port was unplugged, a write
// failed or a frame went unacknowledged after its three transmissions. Data
// frames not yet acknowledged were dropped; the line reopens the port.
type LinkDown struct {
	Port string
	Err  error
}

// OpenFailed reports a failed attempt to open the port; the line tries again
// after Retry.
type OpenFailed struct {
	Err   error
	Retry time.Duration
}

func (Received) event()   {}
func (Invalid) event()    {}
func (HelloDone) event()  {}
func (LinkUp) event()     {}
func (LinkDown) event()   {}
func (OpenFailed) event() {}

// ErrLinkDown is the error of a LinkDown caused by a data frame that got no
// ACK after MaxTransmissions transmissions.
var ErrLinkDown = errors.New("the peer acknowledged no frame after 3 transmissions; check the cable and that the other side runs")

// ErrClosed is returned by Send when the line is not running.
var ErrClosed = errors.New("the line has stopped: messages can no longer be sent")

// Trace describes one frame that went over the line, for technician tools and
// the register simulator's record.
type Trace struct {
	At    time.Time
	Out   bool   // sent by this side
	Frame Frame  // zero when Err is set
	Raw   []byte // the frame's wire bytes; for a received frame, re-encoded
	Err   error  // a received frame that was dropped (*FrameError)
}
