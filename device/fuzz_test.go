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
// reads back as the same frame, also when noise comes before it.
func FuzzFrameRoundTrip(f *testing.F) {
	f.Add(uint8(7), byte('P'), []byte("req=pos-42\x1camt=500\x1ccur=USD"), []byte{0x06, 0x15})
	f.Add(uint8(16), byte('I'), []byte{}, []byte{DLE})
	f.Fuzz(func(t *testing.T, seq uint8, typ byte, payload, noise []byte) {
		if len(payload) > MaxPayload {
			payload = payload[:MaxPayload]
		}
		in := Frame{Seq: seq, Type: typ, Payload: payload}
		// Noise ends with anything but an unfinished frame start: cut it at
		// its last DLE STX, which would open a frame of its own.
		if i := bytes.LastIndex(noise, []byte{DLE, STX}); i >= 0 {
			noise = noise[:i]
		}
		out := decodeAll(append(append([]byte{}, noise...), mustFrame(t, in)...), time.Unix(0, 0))
		if len(out) != 1 || out[0].err != nil {
			t.Fatalf("got %v, want the one frame %v", out, in)
		}
		got := out[0].frame
		if got.Seq != in.Seq || got.Type != in.Type || !bytes.Equal(got.Payload, in.Payload) {
			t.Fatalf("got %v, want %v", got, in)
		}
	})
}
