package status

import (
	"errors"
	"testing"

	"github.com/posagent/posagent/device"
)

func TestLinkCountersCountFramesNAKsAndResends(t *testing.T) {
	out := func(seq uint8, typ byte) device.Trace {
		return device.Trace{Out: true, Frame: device.Frame{Seq: seq, Type: typ}}
	}
	in := func(seq uint8, typ byte) device.Trace {
		return device.Trace{Frame: device.Frame{Seq: seq, Type: typ}}
	}
	var c LinkCounters
	for _, tr := range []device.Trace{
		out(1, device.TypeHello), // sent
		in(1, device.TypeAck),
		in(1, device.TypeHello),
		out(1, device.TypeAck),
		out(2, device.TypeResult), // sent
		in(0, device.TypeNak),     // the register NAKs it
		out(2, device.TypeResult), // resend
		out(2, device.TypeResult), // resend after T2
		in(2, device.TypeAck),
		{Err: errors.New("crc")}, // a broken frame arrives
		out(0, device.TypeNak),   // and is NAKed
		out(3, device.TypePing),  // a new frame
		in(3, device.TypeAck),
	} {
		c.Trace(tr)
	}
	var l Link
	c.Fill(&l)
	want := Link{FramesIn: 6, FramesOut: 7, NAKsIn: 1, NAKsOut: 1, Resends: 2}
	if l != want {
		t.Errorf("counts = %+v, want %+v", l, want)
	}
}
