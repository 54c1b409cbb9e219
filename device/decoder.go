package device

import "time"

// Reason is why a frame was refused; it is the reason field of the NAK that
// answers it.
type Reason string

// NAK reasons, in the words of the protocol.
const (
	ReasonCRC     Reason = "crc"
	ReasonLen     Reason = "len"
	ReasonVer     Reason = "ver"
	ReasonFraming Reason = "framing"
	ReasonTimeout Reason = "timeout"
)

// FrameError reports a frame the decoder dropped. The receiver answers it with
// NakFrame(Reason).
type FrameError struct {
	Reason Reason
}

func (e *FrameError) Error() string {
	return "bad frame dropped (" + string(e.Reason) + "): the peer resends it on NAK"
}

type decodeState uint8

const (
	outside    decodeState = iota // between frames: bytes are noise
	outsideDLE                    // between frames, after a DLE
	body                          // reading the stuffed body
	bodyDLE                       // in the body, after a DLE
	crcLow                        // after DLE ETX, waiting for the CRC low byte
	crcHigh                       // waiting for the CRC high byte
)

// Decoder is the receive state machine of the frame layer. Feed it bytes in
// the order they arrived with the time they arrived; it reports every good
// frame and every dropped one. Memory use is fixed: a body longer than the
// largest legal one is checked but not stored. A Decoder is not safe for
// concurrent use.
type Decoder struct {
	state decodeState
	// discard is set once a frame has been answered (LEN over the limit): the
	// rest of it is parsed only to find where it ends, and reported no more.
	discard bool
	n       int // body bytes read so far, including those not stored
	crc     uint16
	crcLo   byte
	last    time.Time // arrival of the last byte
	buf     [headerLen + MaxPayload]byte
}

// inFrame reports whether the decoder is between DLE STX and the last CRC byte.
func (d *Decoder) inFrame() bool { return d.state >= body }

// Deadline reports when the frame being read goes stale if no byte comes:
// the first instant more than T1 after the last byte. ok is false between
// frames, when there is nothing to time out.
func (d *Decoder) Deadline() (t time.Time, ok bool) {
	if !d.inFrame() || d.discard {
		return time.Time{}, false
	}
	return d.last.Add(T1 + time.Nanosecond), true
}

// Expire drops the frame being read if more than T1 has passed since its last
// byte, returning the FrameError (ReasonTimeout) to answer. It returns nil when
// nothing was dropped.
func (d *Decoder) Expire(now time.Time) error {
	if !d.inFrame() || now.Sub(d.last) <= T1 {
		return nil
	}
	d.state = outside
	if d.discard {
		d.discard = false
		return nil
	}
	return &FrameError{Reason: ReasonTimeout}
}

// Feed consumes p, which arrived at time at, and calls emit once for each
// frame that ended or was dropped on the way, in order: with the frame and a
// nil error, or with a zero Frame and a *FrameError. The frame's payload is a
// fresh copy the callee may keep.
func (d *Decoder) Feed(p []byte, at time.Time, emit func(Frame, error)) {
	if len(p) == 0 {
		return
	}
	// All of p arrived at once: only the gap before its first byte can be
	// longer than T1.
	if err := d.Expire(at); err != nil {
		emit(Frame{}, err)
	}
	d.last = at
	for _, c := range p {
		d.step(c, emit)
	}
}

func (d *Decoder) step(c byte, emit func(Frame, error)) {
	switch d.state {
	case outside:
		if c == DLE {
			d.state = outsideDLE
		}
	case outsideDLE:
		switch c {
		case STX:
			d.start()
		case DLE:
			// Still a DLE that may start a frame.
		default:
			d.state = outside
		}
	case body:
		if c == DLE {
			d.state = bodyDLE
		} else {
			d.add(c, emit)
		}
	case bodyDLE:
		switch c {
		case DLE:
			d.state = body
			d.add(DLE, emit)
		case ETX:
			d.crc = crcByte(d.crc, ETX)
			d.state = crcLow
		case STX:
			d.fail(ReasonFraming, emit)
			d.start()
		default:
			d.fail(ReasonFraming, emit)
			d.state = outside
		}
	case crcLow:
		d.crcLo = c
		d.state = crcHigh
	case crcHigh:
		d.state = outside
		if d.discard {
			d.discard = false
			return
		}
		d.finish(uint16(d.crcLo)|uint16(c)<<8, emit)
	}
}

func (d *Decoder) start() {
	d.state = body
	d.discard = false
	d.n = 0
	d.crc = 0
}

// fail reports the frame being read as dropped unless it was already answered.
func (d *Decoder) fail(r Reason, emit func(Frame, error)) {
	if !d.discard {
		emit(Frame{}, &FrameError{Reason: r})
	}
	d.discard = false
}

// add takes one unstuffed body byte. Once the header is complete a LEN over
// the limit is answered at once and the rest of the frame is discarded.
func (d *Decoder) add(c byte, emit func(Frame, error)) {
	d.crc = crcByte(d.crc, c)
	if d.n < len(d.buf) {
		d.buf[d.n] = c
	}
	d.n++
	if d.n == headerLen && !d.discard && d.declaredLen() > MaxPayload {
		emit(Frame{}, &FrameError{Reason: ReasonLen})
		d.discard = true
	}
}

func (d *Decoder) declaredLen() int { return int(d.buf[3])<<8 | int(d.buf[4]) }

// finish runs the checks of a complete frame in the protocol's order: CRC,
// VER, then LEN against the payload bytes read.
func (d *Decoder) finish(crc uint16, emit func(Frame, error)) {
	switch {
	case crc != d.crc:
		emit(Frame{}, &FrameError{Reason: ReasonCRC})
	case d.n < 1 || d.buf[0] != Version:
		emit(Frame{}, &FrameError{Reason: ReasonVer})
	case d.n < headerLen || d.declaredLen() != d.n-headerLen:
		emit(Frame{}, &FrameError{Reason: ReasonLen})
	default:
		emit(Frame{
			Seq:     d.buf[1],
			Type:    d.buf[2],
			Payload: append([]byte{}, d.buf[headerLen:d.n]...),
		}, nil)
	}
}
