package device

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Control bytes of the frame layer.
const (
	DLE = 0x10 // data link escape: starts every control pair; doubled in the body
	STX = 0x02 // after DLE: a frame starts
	ETX = 0x03 // after DLE: the body ends; two raw CRC bytes follow
)

// Limits and timers of the register protocol, version 1.
const (
	// Version is the VER byte of every frame this package sends and accepts.
	Version = 0x01
	// MaxPayload is the largest LEN a frame may carry.
	MaxPayload = 1024
	// T1 is the longest gap allowed between two bytes of one frame.
	T1 = 200 * time.Millisecond
	// T2 is how long a sender waits for the ACK of a drained data frame.
	T2 = 1000 * time.Millisecond
	// MaxTransmissions is how often one data frame is sent before the link is down.
	MaxTransmissions = 3
	// IdleTimeout is the silence after which a side sends PING.
	IdleTimeout = 5 * time.Second

	headerLen = 5 // VER SEQ TYPE LEN_hi LEN_lo
)

// Frame TYPE letters. ACK and NAK are link control frames; every other TYPE is
// a data frame.
const (
	TypeAck    byte = 'A'
	TypeNak    byte = 'N'
	TypePay    byte = 'P'
	TypeCancel byte = 'C'
	TypeQuery  byte = 'Q'
	TypeDone   byte = 'D'
	TypeStatus byte = 'S'
	TypeResult byte = 'R'
	TypeHello  byte = 'H'
	TypePing   byte = 'I'
)

// Frame is one decoded frame: its sequence number, TYPE letter and the payload
// as it was before stuffing.
type Frame struct {
	Seq     uint8
	Type    byte
	Payload []byte
}

// IsData reports whether f is a data frame, one that is acknowledged and
// retried, as opposed to an ACK or NAK.
func (f Frame) IsData() bool { return f.Type != TypeAck && f.Type != TypeNak }

// String renders f for logs: SEQ, TYPE and the payload with FS shown as '|'
// and other control bytes escaped.
func (f Frame) String() string {
	return fmt.Sprintf("seq=%d type=%c len=%d %s", f.Seq, f.Type, len(f.Payload), printable(f.Payload))
}

// printable renders a payload for a log line: FS becomes '|', control bytes
// and bytes that are not valid UTF-8 are written as \xNN.
func printable(p []byte) string {
	var b strings.Builder
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRune(p[i:])
		switch {
		case r == fieldSep:
			b.WriteByte('|')
		case r == utf8.RuneError && size == 1, r < 0x20, r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", p[i])
		default:
			b.Write(p[i : i+size])
		}
		i += size
	}
	return b.String()
}

// AckFrame returns the ACK of the data frame with sequence number seq.
func AckFrame(seq uint8) Frame { return Frame{Seq: seq, Type: TypeAck} }

// NakFrame returns the NAK for a bad frame, carrying the reason.
func NakFrame(r Reason) Frame {
	return Frame{Seq: 0, Type: TypeNak, Payload: []byte("reason=" + string(r))}
}

// AppendFrame appends the wire form of f to dst: DLE STX, the stuffed body
// (VER, SEQ, TYPE, LEN, payload), DLE ETX and the CRC low byte first. It fails
// only when the payload is longer than MaxPayload.
func AppendFrame(dst []byte, f Frame) ([]byte, error) {
	if len(f.Payload) > MaxPayload {
		return dst, fmt.Errorf("frame payload of %d bytes is over the limit of %d: split the message", len(f.Payload), MaxPayload)
	}
	n := len(f.Payload)
	return appendRawFrame(dst, []byte{Version, f.Seq, f.Type, byte(n >> 8), byte(n)}, f.Payload), nil
}

// appendRawFrame frames the body header+payload without checking it, so tests
// can build frames with a wrong VER or LEN.
func appendRawFrame(dst, header, payload []byte) []byte {
	dst = append(dst, DLE, STX)
	var crc uint16
	for _, part := range [2][]byte{header, payload} {
		for _, b := range part {
			crc = crcByte(crc, b)
			if b == DLE {
				dst = append(dst, DLE)
			}
			dst = append(dst, b)
		}
	}
	crc = crcByte(crc, ETX)
	return append(dst, DLE, ETX, byte(crc), byte(crc>>8))
}
