package device

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// session is the link over one open connection, from open to close. Its
// methods run on the Run goroutine; a reader and a writer goroutine do the
// blocking I/O and report back over channels.
type session struct {
	l    *Line
	conn Conn
	port string

	stop    chan struct{} // closed by close: the goroutines end
	wg      sync.WaitGroup
	rx      chan rxChunk     // reader to Run
	wr      chan outFrame    // Run to writer
	written chan writeReport // writer to Run
	out     []outFrame       // frames waiting for the writer, in order

	dec       Decoder
	inflight  *inflight // the one data frame not yet acknowledged
	txID      uint64    // id of the last transmission handed to the writer
	seenBoots map[string]bool
	peer      Hello     // the peer's last HELLO in this session
	lastRx    time.Time // when the last good frame came
	gotFrame  bool      // a good frame came in this session

	t1, t2, idle timerSlot

	err error // why the session ends; set once
}

type rxChunk struct {
	p   []byte
	at  time.Time
	err error
}

// outFrame is a frame for the writer; id is the transmission id of a data
// frame (its drain is reported) and 0 for ACK and NAK.
type outFrame struct {
	raw []byte
	id  uint64
}

type writeReport struct {
	id  uint64
	err error
}

// inflight is the data frame waiting for its ACK.
type inflight struct {
	msg   outMsg
	frame Frame
	raw   []byte
	sent  int    // transmissions so far
	id    uint64 // id of the latest transmission
}

// acked reports, once, that the peer acknowledged the frame.
func (in *inflight) acked() {
	if acked := in.msg.acked; acked != nil {
		in.msg.acked = nil
		acked()
	}
}

func (l *Line) startSession(conn Conn) *session {
	s := &session{
		l:         l,
		conn:      conn,
		port:      connName(conn),
		stop:      make(chan struct{}),
		rx:        make(chan rxChunk),
		wr:        make(chan outFrame),
		written:   make(chan writeReport),
		seenBoots: map[string]bool{},
		lastRx:    l.clock.Now(),
	}
	s.wg.Add(2)
	go s.readLoop()
	go s.writeLoop()
	usb := connUSB(conn)
	open := l.log.Info().Str("port", s.port)
	if usb != "" {
		open = open.Str("usb", usb)
	}
	open.Str("boot", l.hello.Boot).Msg("register port open")
	l.emit(LinkUp{Port: s.port, USB: usb})
	s.idle = l.arm(IdleTimeout, timerIdle)
	// HELLO goes first, before whatever waited while the port was closed.
	l.queue = append([]outMsg{l.helloMsg(true)}, l.queue...)
	s.pump()
	return s
}

// connUSB returns the USB identity of c's port, where c knows it.
func connUSB(c Conn) string {
	if u, ok := c.(interface{ USBID() string }); ok {
		return u.USBID()
	}
	return ""
}

func connName(c Conn) string {
	if n, ok := c.(interface{ Name() string }); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", c)
}

// close ends the session: the goroutines are told to stop, the connection is
// closed (which unblocks them), and close returns when they have ended.
// Errors they meet after this are the session's own doing and are not
// reported.
func (s *session) close() {
	close(s.stop)
	if err := s.conn.Close(); err != nil {
		s.l.log.Debug().Err(err).Str("port", s.port).Msg("closing the register port")
	}
	s.wg.Wait()
	s.t1.stop()
	s.t2.stop()
	s.idle.stop()
}

func (s *session) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

func (s *session) readLoop() {
	defer s.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := s.conn.Read(buf)
		if n > 0 {
			c := rxChunk{p: append([]byte(nil), buf[:n]...), at: s.l.clock.Now()}
			select {
			case s.rx <- c:
			case <-s.stop:
				return
			}
			// The Run goroutine just woken waits for a processor, and the
			// next Read may hold this one while it blocks in the kernel
			// (go.bug.st/serial waits in select(2)) until the scheduler
			// notices, a tenth of a millisecond or more: yield it first,
			// so that the bytes are handled now.
			runtime.Gosched()
		}
		if err != nil {
			select {
			case s.rx <- rxChunk{err: err}:
			case <-s.stop:
			}
			return
		}
		// (0, nil): nothing arrived. A serial port never returns it, since
		// its Read waits without a timeout (OpenPort); a Conn that does
		// must block for a while first, or this loop spins.
		select {
		case <-s.stop:
			return
		default:
		}
	}
}

func (s *session) writeLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case f := <-s.wr:
			err := writeAll(s.conn, f.raw)
			if err == nil {
				err = s.conn.Drain()
			}
			if err != nil || f.id != 0 {
				select {
				case s.written <- writeReport{id: f.id, err: err}:
				case <-s.stop:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
}

// writeAll writes p whole: a serial port may take it in parts.
func writeAll(c Conn, p []byte) error {
	for len(p) > 0 {
		n, err := c.Write(p)
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("the port accepted no bytes")
		}
		p = p[n:]
	}
	return nil
}

// send hands a frame to the writer, after those already waiting.
func (s *session) send(f Frame, raw []byte, id uint64) {
	s.l.frameLog(s.port, true, f, raw, nil)
	if s.l.trace != nil {
		s.l.trace(Trace{At: s.l.clock.Now(), Out: true, Frame: f, Raw: raw})
	}
	s.out = append(s.out, outFrame{raw: raw, id: id})
}

func (s *session) sendControl(f Frame) {
	raw, _ := AppendFrame(nil, f) // ACK and NAK payloads are short
	s.send(f, raw, 0)
}

// pump starts the next queued message when no data frame is outstanding.
func (s *session) pump() {
	if s.err != nil || s.inflight != nil || len(s.l.queue) == 0 {
		return
	}
	m := s.l.queue[0]
	s.l.queue = s.l.queue[1:]
	f := Frame{Seq: s.l.nextSeq(), Type: m.typ, Payload: m.payload}
	raw, err := AppendFrame(nil, f)
	if err != nil { // Send checked the length; not reached
		s.l.log.Error().Err(err).Msg("message dropped")
		s.pump()
		return
	}
	s.inflight = &inflight{msg: m, frame: f, raw: raw}
	s.transmit()
}

// transmit sends the outstanding frame (again); T2 starts once it has drained.
func (s *session) transmit() {
	s.t2.stop()
	s.txID++
	s.inflight.sent++
	s.inflight.id = s.txID
	if s.inflight.sent > 1 {
		s.l.log.Debug().Str("port", s.port).Uint8("seq", s.inflight.frame.Seq).Int("transmission", s.inflight.sent).Msg("resending frame")
	}
	s.send(s.inflight.frame, s.inflight.raw, s.txID)
}

// retry resends the outstanding frame after a NAK or T2, or ends the session
// when it has had all its transmissions.
func (s *session) retry() {
	if s.inflight.sent >= MaxTransmissions {
		s.fail(fmt.Errorf("frame SEQ %d (%c) on %s: %w", s.inflight.frame.Seq, s.inflight.frame.Type, s.port, ErrLinkDown))
		return
	}
	s.transmit()
}

func (s *session) onWritten(r writeReport) {
	if r.err != nil {
		s.fail(fmt.Errorf("writing to %s failed (unplugged?): %w", s.port, r.err))
		return
	}
	if s.inflight != nil && r.id == s.inflight.id {
		s.t2 = s.l.arm(T2, timerT2)
	}
}

func (s *session) onRead(c rxChunk) {
	if c.err != nil {
		s.fail(fmt.Errorf("reading from %s failed (unplugged?): %w", s.port, c.err))
		return
	}
	s.dec.Feed(c.p, c.at, s.onFrame)
	s.armT1()
}

// armT1 keeps a timer on the deadline of the frame being read, if any.
func (s *session) armT1() {
	s.t1.stop()
	if deadline, ok := s.dec.Deadline(); ok {
		s.t1 = s.l.arm(deadline.Sub(s.l.clock.Now()), timerT1)
	}
}

func (s *session) onTimer(tf timerFire) {
	switch tf.kind {
	case timerT1:
		if tf.gen != s.t1.gen {
			return
		}
		if err := s.dec.Expire(s.l.clock.Now()); err != nil {
			s.onFrame(Frame{}, err)
		}
		s.armT1()
	case timerT2:
		if tf.gen != s.t2.gen || s.inflight == nil {
			return
		}
		s.retry()
	case timerIdle:
		if tf.gen != s.idle.gen {
			return
		}
		silent := s.l.clock.Now().Sub(s.lastRx)
		if silent < IdleTimeout {
			s.idle = s.l.arm(IdleTimeout-silent, timerIdle)
			return
		}
		if s.inflight == nil && len(s.l.queue) == 0 {
			s.l.queue = append(s.l.queue, outMsg{typ: TypePing})
			s.pump()
			// The silence is timed again from the PING's ACK (onFrame);
			// a PING that gets none takes the link down.
			s.idle = timerSlot{}
			return
		}
		s.idle = s.l.arm(IdleTimeout, timerIdle)
	}
}

// onFrame handles one report of the decoder.
func (s *session) onFrame(f Frame, err error) {
	if s.err != nil {
		return
	}
	now := s.l.clock.Now()
	if err != nil {
		s.l.frameLog(s.port, false, f, nil, err)
		if s.l.trace != nil {
			s.l.trace(Trace{At: now, Err: err})
		}
		var fe *FrameError
		if errors.As(err, &fe) {
			s.sendControl(NakFrame(fe.Reason))
		}
		return
	}
	if s.l.trace != nil || s.l.debugEnabled() {
		raw, _ := AppendFrame(nil, f)
		s.l.frameLog(s.port, false, f, raw, nil)
		if s.l.trace != nil {
			s.l.trace(Trace{At: now, Frame: f, Raw: raw})
		}
	}
	s.lastRx = now
	s.gotFrame = true
	switch f.Type {
	case TypeAck:
		if s.inflight == nil || f.Seq != s.inflight.frame.Seq {
			return // not for the outstanding frame: ignored
		}
		done := s.inflight
		s.inflight = nil
		s.t2.stop()
		done.acked()
		if done.msg.typ == TypePing {
			// The silence is timed from here, not from when the PING went
			// out, which would wake the line just before the next PING is
			// due only to set the timer again.
			s.idle = s.l.arm(IdleTimeout, timerIdle)
		}
		if done.msg.postOpen {
			s.l.emit(HelloDone{Peer: s.peer})
		}
		s.pump()
	case TypeNak:
		if s.inflight == nil {
			return // nothing outstanding: ignored
		}
		s.retry()
	default:
		s.sendControl(AckFrame(f.Seq))
		s.onData(f)
	}
}

// onData processes an acknowledged data frame.
func (s *session) onData(f Frame) {
	l := s.l
	if f.Type == TypeHello {
		// A HELLO is never a duplicate; it resets the duplicate state.
		l.peerSeq = int(f.Seq)
		m, err := DecodeMessage(f.Type, f.Payload)
		if err != nil {
			l.log.Warn().Err(err).Str("port", s.port).Msg("HELLO with malformed fields; taken as a HELLO without them")
			m = Hello{}
		}
		s.peer = m.(Hello)
		l.log.Info().Str("port", s.port).Str("boot", s.peer.Boot).Str("role", s.peer.Role).Str("name", s.peer.Name).Msg("HELLO from the peer")
		if s.seenBoots[s.peer.Boot] {
			return
		}
		s.seenBoots[s.peer.Boot] = true
		l.emit(HelloDone{Peer: s.peer})
		// A HELLO from a new boot is sent right after the peer opened its
		// port, so a HELLO of ours that already left and is still waiting
		// for its ACK most likely went nowhere: it is sent again at once,
		// as the answer, instead of holding the answer and every queued
		// message behind it until T2.
		if in := s.inflight; in != nil && in.msg.typ == TypeHello && s.t2.gen != 0 && in.sent < MaxTransmissions {
			s.transmit()
			return
		}
		// Answer ahead of queued messages, behind the outstanding frame.
		l.queue = append([]outMsg{l.helloMsg(false)}, l.queue...)
		s.pump()
		return
	}
	if l.peerSeq == int(f.Seq) {
		l.log.Debug().Str("port", s.port).Uint8("seq", f.Seq).Msg("duplicate frame acknowledged again, not processed")
		return
	}
	l.peerSeq = int(f.Seq)
	m, err := DecodeMessage(f.Type, f.Payload)
	var fe *InvalidFieldError
	switch {
	case errors.Is(err, ErrUnknownType):
		l.log.Info().Str("port", s.port).Str("type", string(f.Type)).Msg("frame of an undefined TYPE acknowledged and ignored")
	case errors.As(err, &fe):
		l.log.Warn().Str("port", s.port).Str("type", string(f.Type)).Str("field", fe.Error()).Msg("message with an invalid field")
		l.emit(Invalid{Type: f.Type, Req: RequestID(f.Payload), Err: fe})
	case err != nil:
		l.log.Warn().Err(err).Msg("message dropped")
	case f.Type == TypePing:
		// Its ACK is the answer.
	default:
		l.emit(Received{Msg: m})
	}
}
