package agent

// The simulated cash register. It sends PAY for each sale (and makes its own
// pay call to Alipay, which simAlipay.pay models), repeats a PAY now and then
// as a register that got no STATUS in time does, sends CANCEL when the
// cashier gives up, QUERY when it wants to know, and DONE for the RESULTs it
// records; sometimes it goes silent for a while and answers nothing. The
// link to it also goes down and comes back (a HELLO exchange follows).

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/posagent/posagent/device"
)

// simRegister is the register's side of one history.
type simRegister struct {
	h      *simHistory
	rng    *rand.Rand
	pays   map[string]device.Pay
	silent time.Duration // mono time until which the register sends nothing
	// accepted holds the sales the agent answered with a state; a PAY it
	// refused with STORAGE_ERROR is sent again until it is.
	accepted map[string]bool
}

// plan schedules the sales of one history: n PAYs over its first 15
// minutes, each with what the cashier will do next.
func (r *simRegister) plan(n int) {
	for i := range n {
		r.planSale(i, time.Duration(r.rng.Int64N(int64(15*time.Minute))))
	}
	r.planSilences()
}

// planSale schedules sale number i at at.
func (r *simRegister) planSale(i int, at time.Duration) {
	m := device.Pay{
		Req:      fmt.Sprintf("sale-%02d", i),
		Amount:   1 + r.rng.Int64N(50000),
		Currency: []string{"USD", "EUR", "JPY"}[r.rng.IntN(3)],
	}
	switch r.rng.IntN(6) {
	case 0: // a shorter or longer wait than polling.cancel_after
		m.Expiry = time.Duration(20+r.rng.IntN(100)) * time.Second
	case 1: // a sale the customer pays later (at the table, by the door)
		m.Expiry = time.Duration(5+r.rng.IntN(26)) * time.Minute
	}
	if r.rng.IntN(4) == 0 {
		m.PID = fmt.Sprintf("2026%08d", r.rng.IntN(1e8))
	}
	r.pays[m.Req] = m
	r.h.at(at, "register: new sale", func() { r.sale(m) })
}

// planSilences schedules the register's silences and the link's losses.
func (r *simRegister) planSilences() {
	// Silences: the register is busy or hung and sends nothing, not even DONE.
	for range r.rng.IntN(3) {
		from := time.Duration(r.rng.Int64N(int64(30 * time.Minute)))
		long := time.Duration(r.rng.Int64N(int64(3 * time.Minute)))
		r.h.at(from, "register: goes silent", func() {
			r.silent = r.h.clock.Mono() + long
			r.h.trace.add("register goes silent for %s", long.Round(time.Second))
		})
	}
	// Link losses: the cable is pulled or the register reboots.
	for range r.rng.IntN(3) {
		from := time.Duration(r.rng.Int64N(int64(30 * time.Minute)))
		long := time.Second + time.Duration(r.rng.Int64N(int64(90*time.Second)))
		r.h.at(from, "link: down", func() { r.h.setLink(false) })
		r.h.at(from+long, "link: up", func() { r.h.setLink(true) })
	}
}

// sale sends the PAY of a new sale, starts the register's own pay call and
// schedules what the cashier does next.
func (r *simRegister) sale(m device.Pay) {
	r.send(m)
	if line := r.h.alipay.pay(m.Req, m.Amount, m.Currency, r.h.clock.True()); line != "" {
		r.h.trace.add("alipay: %s: %s", m.Req, line)
		r.h.traceTruth(m.Req)
	}
	for range r.rng.IntN(3) { // repeated PAYs: no STATUS came in time, or a replay
		r.h.after(time.Duration(r.rng.Int64N(int64(20*time.Second))), "register: repeats PAY", func() { r.send(m) })
	}
	if r.rng.IntN(4) == 0 { // the cashier cancels the sale
		r.h.after(time.Second+time.Duration(r.rng.Int64N(int64(100*time.Second))), "register: CANCEL", func() {
			r.send(device.Cancel{Req: m.Req})
		})
	}
	for range r.rng.IntN(3) {
		r.h.after(time.Duration(r.rng.Int64N(int64(10*time.Minute))), "register: QUERY", func() {
			r.send(device.Query{Req: m.Req})
		})
	}
}

// send hands m to the agent when the link is up and the register is not
// silent; otherwise the register tries again a few seconds later, as its T3
// resend does.
func (r *simRegister) send(m device.Message) {
	if !r.h.linkReady() || r.h.clock.Mono() < r.silent {
		r.h.after(2*time.Second+time.Duration(r.rng.Int64N(int64(3*time.Second))), "register: sends again", func() { r.send(m) })
		return
	}
	r.h.toAgent(m)
}

// receive takes one message from the agent: a RESULT is confirmed with DONE
// (unless the register is silent or misses it; the agent resends it), a
// PAY the agent could not store is sent again a few seconds later.
func (r *simRegister) receive(m device.Message) {
	if st, ok := m.(device.Status); ok {
		pay, sale := r.pays[st.Req]
		switch {
		case !sale:
		case st.State != device.StateRejected && st.State != device.StateUnknown:
			r.accepted[st.Req] = true
		case st.Code == device.CodeStorageError && !r.accepted[st.Req]:
			r.h.after(3*time.Second+time.Duration(r.rng.Int64N(int64(5*time.Second))), "register: PAY again", func() { r.send(pay) })
		}
	}
	res, ok := m.(device.Result)
	if !ok || r.h.clock.Mono() < r.silent || r.rng.IntN(7) == 0 {
		return
	}
	r.h.after(time.Duration(r.rng.Int64N(int64(2*time.Second))), "register: DONE", func() {
		if r.h.linkReady() && r.h.clock.Mono() >= r.silent {
			r.h.toAgent(device.Done{Req: res.Req})
		}
	})
}
