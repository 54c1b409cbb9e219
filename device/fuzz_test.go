package device

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecoder feeds arbitrary bytes, split into reads of arbitrary sizes at
// arbitrary times, and checks that the decoder never panics, that every good
// frame it reports is legal and re-encodes to something it reads back the
// same, and that the way bytes are split into reads changes nothing.
func FuzzDecoder(f *testing.F) {
	for _, tc := range protocolExamples {
		f.Add(hexBytes(f, tc.wire), uint8(1), uint8(0))
	}
	f.Add(mustFrame(f, Frame{Seq: 16, Type: TypePay, Payload: bytes.Repeat([]byte{DLE}, 40)}), uint8(3), uint8(0))
	f.Add([]byte{DLE, STX, Version, 1, TypePay, 0x04, 0x01, DLE, DLE, DLE, STX}, uint8(2), uint8(250))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, gapMillis uint8) {
		size := int(chunk%16) + 1
		gap := time.Duration(gapMillis) * time.Millisecond
		at := time.Unix(0, 0)
		var whole, split []decoded
		var d1, d2 Decoder
		d1.Feed(data, at, func(f Frame, err error) { whole = append(whole, decoded{f, err}) })
		for i := 0; i < len(data); i += size {
			d2.Feed(data[i:min(i+size, len(data))], at, func(f Frame, err error) { split = append(split, decoded{f, err}) })
			at = at.Add(gap)
		}
		if gap <= T1 && summary(whole) != summary(split) {
			t.Fatalf("split reads changed the result: %q vs %q", summary(whole), summary(split))
		}
		for _, d := range append(whole, split...) {
			if d.err != nil {
				continue
			}
			if len(d.frame.Payload) > MaxPayload {
				t.Fatalf("frame with a %d-byte payload passed", len(d.frame.Payload))
			}
			again := decodeAll(mustFrame(t, d.frame), time.Unix(0, 0))
			if len(again) != 1 || again[0].err != nil || !bytes.Equal(again[0].frame.Payload, d.frame.Payload) ||
				again[0].frame.Seq != d.frame.Seq || again[0].frame.Type != d.frame.Type {
				t.Fatalf("frame %v does not round-trip: %v", d.frame, again)
			}
		}
	})
}

// FuzzFrameRoundTrip checks that any legal frame encodes to bytes the decoder
// reads back as the same frame, also when noise comes before it: the decoder
// reports what the noise holds, then drops a frame the noise left open (NAK
// framing) where the frame's DLE STX resynchronises it, then the frame.
func FuzzFrameRoundTrip(f *testing.F) {
	f.Add(uint8(7), byte('P'), []byte("req=pos-42\x1camt=500\x1ccur=USD"), []byte{0x06, 0x15})
	f.Add(uint8(16), byte('I'), []byte{}, []byte{DLE})
	f.Fuzz(func(t *testing.T, seq uint8, typ byte, payload, noise []byte) {
		if len(payload) > MaxPayload {
			payload = payload[:MaxPayload]
		}
		in := Frame{Seq: seq, Type: typ, Payload: payload}
		pad, dropsOpen := resyncAfter(noise)
		noise = append(append([]byte{}, noise...), pad...)
		before := decodeAll(noise, time.Unix(0, 0))
		out := decodeAll(append(append([]byte{}, noise...), mustFrame(t, in)...), time.Unix(0, 0))
		want := 1
		if dropsOpen {
			want = 2
		}
		if len(out) != len(before)+want || summary(out[:len(before)]) != summary(before) {
			t.Fatalf("got %v, want %v, then %d more reports ending in the frame %v", out, before, want, in)
		}
		if dropsOpen && reasonOf(out[len(before)].err) != ReasonFraming {
			t.Fatalf("got %v after the noise, want NAK framing for the frame the noise left open", out[len(before)])
		}
		last := out[len(out)-1]
		if last.err != nil || last.frame.Seq != in.Seq || last.frame.Type != in.Type || !bytes.Equal(last.frame.Payload, in.Payload) {
			t.Fatalf("got %v, want %v", last, in)
		}
	})
}

// resyncAfter models, by the framing rules of the protocol alone, where noise
// leaves a receiver and so how the DLE STX of a frame after it is read:
//
//   - between frames (or after a lone DLE there) it starts the frame;
//   - inside a frame body it drops that frame, answered NAK framing, unless
//     the frame was already answered (LEN over the limit), and starts the
//     new one: dropsOpen says so;
//   - right after a DLE inside a body, the frame's DLE would read as a
//     stuffed data byte, and inside the two CRC bytes as a CRC byte: no
//     sender can help that (the receiver resynchronises at the resend after
//     T1 or T2), so pad returns the bytes that bring the noise to its end
//     first, a byte that ends the body as bad framing or the CRC bytes
//     missing.
func resyncAfter(noise []byte) (pad []byte, dropsOpen bool) {
	const (
		between = iota
		betweenDLE
		inBody
		inBodyDLE
		inCRC
	)
	state := between
	crcLeft := 0 // CRC bytes still to come in state inCRC
	n := 0       // unstuffed body bytes of the open frame
	var header [headerLen]byte
	answered := false // the open frame's LEN was over the limit, and NAKed
	open := func() { state, n, answered = inBody, 0, false }
	take := func(c byte) {
		if n < headerLen {
			header[n] = c
		}
		n++
		if n == headerLen && int(header[3])<<8|int(header[4]) > MaxPayload {
			answered = true
		}
	}
	for _, c := range noise {
		switch state {
		case between:
			if c == DLE {
				state = betweenDLE
			}
		case betweenDLE:
			switch c {
			case STX:
				open()
			case DLE:
			default:
				state = between
			}
		case inBody:
			if c == DLE {
				state = inBodyDLE
			} else {
				take(c)
			}
		case inBodyDLE:
			switch c {
			case DLE:
				state = inBody
				take(DLE)
			case STX:
				open()
			case ETX:
				state, crcLeft = inCRC, 2
			default:
				state = between
			}
		case inCRC:
			if crcLeft--; crcLeft == 0 {
				state = between
			}
		}
	}
	switch state {
	case inBody:
		return nil, !answered
	case inBodyDLE:
		return []byte{0}, false
	case inCRC:
		return make([]byte, crcLeft), false
	}
	return nil, false
}
