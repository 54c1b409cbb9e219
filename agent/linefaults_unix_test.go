//go:build unix

package agent

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/posagent/posagent/device"
)

// Fault rates of lineFaults: one fault in so many frames (or reads) of each
// kind. They are high enough that every kind happens many times in a run,
// and low enough that most frames get through within their three
// transmissions: a run of losses still takes the link down now and then,
// and it comes back up.
const (
	flipOneIn     = 12 // frames the register writes with a bit flipped
	withholdOneIn = 6  // ACKs the register withholds
	noiseOneIn    = 10 // frames the register writes with noise before them
	garbleOneIn   = 15 // reads of the register in which a bit flips
)

// lineFaults gives the register's end of a line the faults of a bad cable.
// Of the frames the register writes (its line writes one frame at a time)
// it flips a bit in some, which the agent answers NAK, and then gets again;
// it withholds some ACKs, so the agent sends its frame again after T2 and
// the register takes the copy as a duplicate; and it puts random noise
// before some. In what the register reads it flips a bit now and then,
// which the register answers NAK, so the agent resends. Every fault is
// drawn from a seeded generator; the seed is logged.
type lineFaults struct {
	mu                                sync.Mutex
	rng                               *rand.Rand
	flipped, withheld, noisy, garbled int
}

func newLineFaults(t *testing.T) *lineFaults {
	seed := uint64(time.Now().UnixNano())
	t.Logf("line faults seeded with %d", seed)
	return &lineFaults{rng: rand.New(rand.NewPCG(seed, seed))}
}

// String sums up the faults made so far.
func (f *lineFaults) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("%d frames with a bit flipped, %d ACKs withheld, %d frames after noise, %d reads garbled",
		f.flipped, f.withheld, f.noisy, f.garbled)
}

// on returns c with the faults on it.
func (f *lineFaults) on(c device.Conn) device.Conn { return faultyConn{Conn: c, f: f} }

type faultyConn struct {
	device.Conn
	f *lineFaults
}

func (c faultyConn) Write(p []byte) (int, error) {
	out := c.f.garbleFrame(p)
	if len(out) == 0 {
		return len(p), nil // withheld: as if the line lost it
	}
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c faultyConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.f.garbleRead(p[:n])
	}
	return n, err
}

// garbleFrame returns what the line delivers of the frame p: nothing for a
// withheld ACK, or the frame, perhaps with a bit flipped and noise before it.
func (f *lineFaults) garbleFrame(p []byte) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if frameType(p) == device.TypeAck && f.rng.IntN(withholdOneIn) == 0 {
		f.withheld++
		return nil
	}
	out := append([]byte(nil), p...)
	if f.rng.IntN(flipOneIn) == 0 {
		// Any byte after DLE STX: most flips fail the CRC; one that makes or
		// breaks a DLE fails the framing.
		out[2+f.rng.IntN(len(out)-2)] ^= 1 << f.rng.IntN(8)
		f.flipped++
	}
	if f.rng.IntN(noiseOneIn) == 0 {
		noise := make([]byte, 1+f.rng.IntN(8))
		for i := range noise {
			noise[i] = byte(f.rng.IntN(256))
		}
		out = append(noise, out...)
		f.noisy++
	}
	return out
}

// garbleRead flips a bit of p now and then.
func (f *lineFaults) garbleRead(p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rng.IntN(garbleOneIn) == 0 {
		p[f.rng.IntN(len(p))] ^= 1 << f.rng.IntN(8)
		f.garbled++
	}
}

// frameType returns the TYPE of the one whole frame p, or 0.
func frameType(p []byte) byte {
	var typ byte
	var d device.Decoder
	d.Feed(p, time.Time{}, func(f device.Frame, err error) {
		if err == nil {
			typ = f.Type
		}
	})
	return typ
}
