package device

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/posagent/posagent/device/devicetest"
)

var benchPayloads = []struct {
	name    string
	payload []byte
}{
	{"pay", []byte("req=pos-42\x1camt=500\x1ccur=USD")},
	{"1024", bytes.Repeat([]byte("x"), MaxPayload)},
	{"1024dle", bytes.Repeat([]byte{DLE}, MaxPayload)},
}

// BenchmarkCRC16 is the baseline of the codec figures: the CRC alone over a
// full payload.
func BenchmarkCRC16(b *testing.B) {
	p := bytes.Repeat([]byte("x"), MaxPayload)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		CRC16(0, p)
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, bp := range benchPayloads {
		b.Run(bp.name, func(b *testing.B) {
			f := Frame{Seq: 7, Type: TypePay, Payload: bp.payload}
			buf := make([]byte, 0, 2*MaxPayload+16)
			b.SetBytes(int64(len(bp.payload)))
			for b.Loop() {
				buf, _ = AppendFrame(buf[:0], f)
			}
		})
	}
}

func BenchmarkDecoderFeed(b *testing.B) {
	for _, bp := range benchPayloads {
		b.Run(bp.name, func(b *testing.B) {
			wire := mustFrame(b, Frame{Seq: 7, Type: TypePay, Payload: bp.payload})
			var d Decoder
			at := time.Unix(0, 0)
			var frames int
			emit := func(Frame, error) { frames++ }
			b.SetBytes(int64(len(wire)))
			for b.Loop() {
				d.Feed(wire, at, emit)
			}
			if frames != b.N {
				b.Fatalf("decoded %d frames of %d", frames, b.N)
			}
		})
	}
}

// readUntilAck reads r, decoding with d, until the ACK of seq arrives.
func readUntilAck(b *testing.B, r io.Reader, d *Decoder, buf []byte, seq uint8) {
	for {
		n, err := r.Read(buf)
		if err != nil {
			b.Fatal(err)
		}
		found := false
		d.Feed(buf[:n], time.Unix(0, 0), func(f Frame, err error) {
			if err == nil && f.Type == TypeAck && f.Seq == seq {
				found = true
			}
		})
		if found {
			return
		}
	}
}

// payRoundTrips sends PAY frames from peer and waits for each ACK from a Line
// at the other end of conn.
func payRoundTrips(b *testing.B, lineConn Conn, peer io.ReadWriter) {
	ctx, cancel := context.WithCancel(context.Background())
	line := NewLine(PortConfig{}, WithOpener(openOnce(lineConn)))
	done := make(chan error, 1)
	go func() { done <- line.Run(ctx) }()
	go func() {
		for range line.Events() {
		}
	}()
	defer func() {
		cancel()
		<-done
	}()
	var d Decoder
	buf := make([]byte, 4096)
	// Acknowledge the line's HELLO so it does not retry during the run.
	for hello := false; !hello; {
		n, err := peer.Read(buf)
		if err != nil {
			b.Fatal(err)
		}
		d.Feed(buf[:n], time.Unix(0, 0), func(f Frame, err error) {
			if err == nil && f.Type == TypeHello {
				hello = true
				peer.Write(mustFrame(b, AckFrame(f.Seq)))
			}
		})
	}
	var frames [256][]byte
	for seq := 1; seq < 256; seq++ {
		frames[seq] = mustFrame(b, Frame{Seq: uint8(seq), Type: TypePay, Payload: benchPayloads[0].payload})
	}
	seq := 0
	b.ResetTimer()
	for b.Loop() {
		seq = seq%255 + 1
		if _, err := peer.Write(frames[seq]); err != nil {
			b.Fatal(err)
		}
		readUntilAck(b, peer, &d, buf, uint8(seq))
	}
}

// BenchmarkPayToAckPipe is a PAY-to-ACK round trip through a Line over the
// in-memory line: the link's own cost.
func BenchmarkPayToAckPipe(b *testing.B) {
	a, peer := devicetest.Pipe()
	payRoundTrips(b, a, peer)
}

// BenchmarkPayToAckPty is a PAY-to-ACK round trip through a Line over a real
// pseudo-terminal opened with go.bug.st/serial.
func BenchmarkPayToAckPty(b *testing.B) {
	p := newPty(b)
	conn, err := OpenPort(context.Background(), PortConfig{Path: p.slave})
	if err != nil {
		b.Fatal(err)
	}
	payRoundTrips(b, conn, p.master)
}

// BenchmarkPtyEchoBaseline is the baseline of BenchmarkPayToAckPty: the same
// bytes both ways over the same kind of pty, answered by a bare loop with no
// link layer.
func BenchmarkPtyEchoBaseline(b *testing.B) {
	p := newPty(b)
	conn, err := OpenPort(context.Background(), PortConfig{Path: p.slave})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	frame := mustFrame(b, Frame{Seq: 7, Type: TypePay, Payload: benchPayloads[0].payload})
	ack := mustFrame(b, AckFrame(7))
	go devicetest.Echo(conn, len(frame), ack)
	buf := make([]byte, 4096)
	for b.Loop() {
		if _, err := p.master.Write(frame); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(p.master, buf[:len(ack)]); err != nil {
			b.Fatal(err)
		}
	}
}
