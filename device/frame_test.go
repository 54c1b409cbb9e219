package device

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

// hexBytes parses the space-separated hex of the protocol page's examples.
func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

func mustFrame(t testing.TB, f Frame) []byte {
	t.Helper()
	b, err := AppendFrame(nil, f)
	if err != nil {
		t.Fatalf("AppendFrame: %v", err)
	}
	return b
}

func TestCRC16CheckValue(t *testing.T) {
	if got := CRC16(0, []byte("123456789")); got != 0x2189 {
		t.Fatalf("CRC-16/KERMIT of 123456789 = %#04x, want 0x2189", got)
	}
	// Continuing a CRC over a split input gives the CRC of the whole.
	if got := CRC16(CRC16(0, []byte("1234")), []byte("56789")); got != 0x2189 {
		t.Fatalf("split CRC = %#04x, want 0x2189", got)
	}
}

// The examples of the protocol page, to the byte.
var protocolExamples = []struct {
	name  string
	frame Frame
	wire  string
}{
	{
		name:  "PAY seq 7",
		frame: Frame{Seq: 7, Type: TypePay, Payload: []byte("req=pos-42\x1camt=500\x1ccur=USD")},
		wire: `10 02 01 07 50 00 1a 72 65 71 3d 70 6f 73 2d 34 32 1c 61 6d 74 3d 35 30 30 1c
		63 75 72 3d 55 53 44 10 03 2a 53`,
	},
	{name: "ACK of seq 7", frame: Frame{Seq: 7, Type: TypeAck}, wire: "10 02 01 07 41 00 00 10 03 60 0c"},
	{name: "PING seq 16 stuffed", frame: Frame{Seq: 16, Type: TypePing}, wire: "10 02 01 10 10 49 00 00 10 03 24 6d"},
}

func TestAppendFrameMatchesProtocolExamples(t *testing.T) {
	for _, tc := range protocolExamples {
		t.Run(tc.name, func(t *testing.T) {
			want := hexBytes(t, tc.wire)
			if got := mustFrame(t, tc.frame); !bytes.Equal(got, want) {
				t.Fatalf("encoded\n% x\nwant\n% x", got, want)
			}
		})
	}
}

func TestDecoderReadsProtocolExamples(t *testing.T) {
	for _, tc := range protocolExamples {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeAll(hexBytes(t, tc.wire), time.Unix(0, 0))
			if len(got) != 1 || got[0].err != nil {
				t.Fatalf("decoded %v, want one good frame", got)
			}
			f := got[0].frame
			if f.Seq != tc.frame.Seq || f.Type != tc.frame.Type || !bytes.Equal(f.Payload, tc.frame.Payload) {
				t.Fatalf("decoded %v, want %v", f, tc.frame)
			}
		})
	}
}

func TestAppendFrameRefusesOversizedPayload(t *testing.T) {
	if _, err := AppendFrame(nil, Frame{Seq: 1, Type: TypePay, Payload: make([]byte, MaxPayload+1)}); err == nil {
		t.Fatal("a 1025-byte payload was encoded, want an error")
	}
	if _, err := AppendFrame(nil, Frame{Seq: 1, Type: TypePay, Payload: make([]byte, MaxPayload)}); err != nil {
		t.Fatalf("a 1024-byte payload was refused: %v", err)
	}
}

// decoded is one report of the decoder: a frame, or an error.
type decoded struct {
	frame Frame
	err   error
}

func (d decoded) String() string {
	if d.err != nil {
		return "NAK " + string(reasonOf(d.err))
	}
	return d.frame.String()
}

func reasonOf(err error) Reason {
	var fe *FrameError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return ""
}

func decodeAll(p []byte, at time.Time) []decoded {
	var d Decoder
	var out []decoded
	d.Feed(p, at, func(f Frame, err error) { out = append(out, decoded{f, err}) })
	return out
}

// summary turns decoder reports into short words: "P7" for a good PAY with SEQ
// 7, "nak:crc" for a drop.
func summary(ds []decoded) string {
	var w []string
	for _, d := range ds {
		if d.err != nil {
			w = append(w, "nak:"+string(reasonOf(d.err)))
		} else {
			w = append(w, string(d.frame.Type)+itoa(int(d.frame.Seq)))
		}
	}
	return strings.Join(w, " ")
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestDecoderCases(t *testing.T) {
	pay := func(seq uint8, payload string) []byte {
		return mustFrame(t, Frame{Seq: seq, Type: TypePay, Payload: []byte(payload)})
	}
	corrupt := func(b []byte, i int) []byte {
		c := append([]byte{}, b...)
		c[i] ^= 0x01
		return c
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	good := pay(1, "req=a")
	oversized := appendRawFrame(nil, []byte{Version, 3, TypePay, 0x04, 0x01}, bytes.Repeat([]byte{DLE}, MaxPayload+1))

	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"one frame", good, "P1"},
		{"noise between frames", cat([]byte{0x06, 0x15, 0x02, 0x10, 0x41, 0x03, 0x10}, good, []byte{0x15, 0x06, 0x10, 0x10, 0x55}, pay(2, "x")), "P1 P2"},
		{"stray DLE DLE STX starts a frame", cat([]byte{DLE}, good), "P1"},
		{"several frames in one read", cat(good, pay(2, ""), pay(3, "y")), "P1 P2 P3"},
		{"empty payload", pay(4, ""), "P4"},
		{"payload of 1024 bytes", pay(5, strings.Repeat("z", MaxPayload)), "P5"},
		{"payload of all DLE", mustFrame(t, Frame{Seq: 6, Type: TypePay, Payload: bytes.Repeat([]byte{DLE}, 100)}), "P6"},
		{"payload of 1024 DLE", mustFrame(t, Frame{Seq: 16, Type: TypePay, Payload: bytes.Repeat([]byte{DLE}, MaxPayload)}), "P16"},
		{"flipped payload bit", corrupt(good, 9), "nak:crc"},
		{"flipped CRC bit", corrupt(good, len(good)-1), "nak:crc"},
		{"wrong version", appendRawFrame(nil, []byte{2, 1, TypePay, 0, 0}, nil), "nak:ver"},
		{"LEN bigger than payload", appendRawFrame(nil, []byte{Version, 1, TypePay, 0, 3}, []byte("ab")), "nak:len"},
		{"LEN smaller than payload", appendRawFrame(nil, []byte{Version, 1, TypePay, 0, 1}, []byte("ab")), "nak:len"},
		{"short header", appendRawFrame(nil, []byte{Version, 1}, nil), "nak:len"},
		{"empty body", appendRawFrame(nil, nil, nil), "nak:ver"},
		{"LEN of 1025 answered once then skipped", cat(oversized, good), "nak:len P1"},
		{"LEN over limit cut by DLE STX", cat(oversized[:19], good), "nak:len P1"},
		{"DLE STX inside a frame", cat(good[:8], good), "nak:framing P1"},
		{"DLE then another byte", cat(good[:8], []byte{DLE, 0x41}, good), "nak:framing P1"},
		{"CRC bytes are not stuffed", mustFrame(t, Frame{Seq: 0x10, Type: TypePing}), "I16"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at := time.Unix(100, 0)
			if got := summary(decodeAll(tc.in, at)); got != tc.want {
				t.Errorf("all at once: got %q, want %q", got, tc.want)
			}
			// One byte per read gives the same reports.
			var d Decoder
			var out []decoded
			for i := range tc.in {
				d.Feed(tc.in[i:i+1], at, func(f Frame, err error) { out = append(out, decoded{f, err}) })
			}
			if got := summary(out); got != tc.want {
				t.Errorf("byte by byte: got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecoderGapOverT1DropsFrameOnLateByte(t *testing.T) {
	frame := mustFrame(t, Frame{Seq: 9, Type: TypePay, Payload: []byte("req=late")})
	t0 := time.Unix(1000, 0)
	var d Decoder
	var out []decoded
	emit := func(f Frame, err error) { out = append(out, decoded{f, err}) }

	d.Feed(frame[:6], t0, emit)
	// A gap of exactly T1 is allowed.
	d.Feed(frame[6:8], t0.Add(T1), emit)
	if len(out) != 0 {
		t.Fatalf("gap of exactly T1 dropped the frame: %v", out)
	}
	// A gap longer than T1: the frame is dropped when the late byte comes, and
	// the late bytes are then read as if between frames, so a frame that
	// follows is read.
	late := t0.Add(2*T1 + time.Millisecond)
	d.Feed(append(append([]byte{}, frame[8:]...), frame...), late, emit)
	if got := summary(out); got != "nak:timeout P9" {
		t.Fatalf("got %q, want %q", got, "nak:timeout P9")
	}
}

func TestDecoderDeadlineAndExpire(t *testing.T) {
	frame := mustFrame(t, Frame{Seq: 9, Type: TypePay, Payload: []byte("req=late")})
	t0 := time.Unix(1000, 0)
	var d Decoder
	if _, ok := d.Deadline(); ok {
		t.Fatal("an idle decoder has a deadline")
	}
	d.Feed(frame[:5], t0, func(Frame, error) { t.Fatal("unexpected report") })
	deadline, ok := d.Deadline()
	if !ok || deadline.Sub(t0) <= T1 || deadline.Sub(t0) > T1+time.Millisecond {
		t.Fatalf("deadline %v after the last byte (ok %v), want just over T1", deadline.Sub(t0), ok)
	}
	if err := d.Expire(t0.Add(T1)); err != nil {
		t.Fatalf("Expire at T1 dropped the frame: %v", err)
	}
	if err := d.Expire(deadline); reasonOf(err) != ReasonTimeout {
		t.Fatalf("Expire at the deadline = %v, want timeout", err)
	}
	if _, ok := d.Deadline(); ok {
		t.Fatal("deadline still set after the frame was dropped")
	}
	// The rest of the dropped frame is noise; a new frame is read.
	var out []decoded
	d.Feed(append(frame[5:], frame...), deadline, func(f Frame, err error) { out = append(out, decoded{f, err}) })
	if got := summary(out); got != "P9" {
		t.Fatalf("after expiry got %q, want P9", got)
	}
}

func TestDecoderOversizedLenAnsweredBeforeRestArrives(t *testing.T) {
	var d Decoder
	var out []decoded
	d.Feed([]byte{DLE, STX, Version, 1, TypePay, 0x04, 0x01}, time.Unix(0, 0), func(f Frame, err error) { out = append(out, decoded{f, err}) })
	if got := summary(out); got != "nak:len" {
		t.Fatalf("got %q right after the header, want nak:len", got)
	}
	// A discarded frame does not time out again.
	if _, ok := d.Deadline(); ok {
		t.Fatal("a discarded frame has a T1 deadline")
	}
}
