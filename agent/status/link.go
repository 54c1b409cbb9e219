package status

import (
	"sync"

	"github.com/posagent/posagent/device"
)

// LinkCounters counts the frames of the register link from its traces: pass
// Trace to device.WithTrace. It is safe for concurrent use.
type LinkCounters struct {
	mu        sync.Mutex
	framesIn  uint64
	framesOut uint64
	naksIn    uint64
	naksOut   uint64
	resends   uint64
	lastSeq   uint8 // SEQ of the last data frame sent; 0 before the first
}

// Trace counts one frame. A data frame sent with the SEQ of the data frame
// sent just before it is a resend: new frames always take the next SEQ
// (register-protocol.md, "Link layer"), so only a resend repeats one.
func (c *LinkCounters) Trace(t device.Trace) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Err != nil {
		c.framesIn++ // a frame arrived, broken; the NAK for it is traced on its own
		return
	}
	nak := t.Frame.Type == device.TypeNak
	switch {
	case !t.Out:
		c.framesIn++
		if nak {
			c.naksIn++
		}
	default:
		c.framesOut++
		if nak {
			c.naksOut++
		}
		if t.Frame.IsData() {
			if t.Frame.Seq == c.lastSeq {
				c.resends++
			}
			c.lastSeq = t.Frame.Seq
		}
	}
}

// Fill copies the counts into l.
func (c *LinkCounters) Fill(l *Link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l.FramesIn, l.FramesOut = c.framesIn, c.framesOut
	l.NAKsIn, l.NAKsOut = c.naksIn, c.naksOut
	l.Resends = c.resends
}
