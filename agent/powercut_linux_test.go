//go:build linux && (amd64 || arm64)

package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/lazyfs"
	"github.com/posagent/posagent/internal/postest"
	"github.com/posagent/posagent/queue"
)

// Power cut settings. CI runs powerCutCycles cuts; POSAGENT_POWERCUT_CYCLES
// asks for another number.
const (
	powerCutCycles = 50
	damageEvery    = 7  // one cut in so many comes after the harness damaged the store
	oldEvery       = 5  // one start in so many finds old delivered payments to prune
	oldPerPrune    = 40 // how many
	resendAfter    = 300 * time.Millisecond
)

// damageEnv names the variable that, set to "0", stops the harness from
// damaging the store now and then; by default some cuts come during or
// after a salvage.
const damageEnv = "POSAGENT_POWERCUT_DAMAGE"

// seedEnv names the variable that makes TestPowerCut, run as a child
// process, store old delivered payments in the store it names.
const seedEnv = "POSAGENT_POWERCUT_SEED"

// TestPowerCut runs the real binary with its store on a lazyfs mount and
// cuts the power at random moments: it kills the agent with SIGKILL, drops
// everything the file system was not asked to make durable, and starts the
// agent again. A register on a pty pays all along, with every outcome the
// fake Alipay can give; some starts find a store the harness damaged (so
// they salvage it) or old delivered payments to prune. After every cut the
// store must open without salvage, unless the harness damaged it, and hold
// every payment answered ACCEPTED, in a state Alipay's answers allow, with
// every final payment either in the outbox or confirmed by a DONE; no RESULT
// may contradict an earlier one.
func TestPowerCut(t *testing.T) {
	t.Parallel()
	if path := os.Getenv(seedEnv); path != "" {
		seedOldPayments(t, path)
		return
	}
	if testing.Short() {
		t.Skip("the power cut test builds the binary and runs for a while")
	}
	if err := lazyfs.Available(); err != nil {
		t.Skipf("power cuts are simulated with a FUSE file system, which cannot be mounted here: %v", err)
	}
	cycles := powerCutCycles
	if s := os.Getenv("POSAGENT_POWERCUT_CYCLES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("POSAGENT_POWERCUT_CYCLES=%q: give a number of cuts, like 1000", s)
		}
		cycles = n
	}
	damages := os.Getenv(damageEnv) != "0"
	h := newPowerCutRig(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("power cut moments seeded with %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	// The first start creates the store; nothing but the agent's own syncs
	// makes it durable, so a cut at once must not lose it.
	h.srv.Script("ready", payFail.script())
	cmd := startAgent(t, h.bin, h.config)
	h.reg.waitReady(t, "ready")
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if err := h.fs.Cut(); err != nil {
		t.Fatal(err)
	}

	ctx, stop := context.WithCancel(context.Background())
	streamDone := make(chan struct{})
	go func() { defer close(streamDone); h.reg.payStream(ctx, h.srv) }()

	started := time.Now()
	// damaged: the harness damaged the store and no salvage of it has yet
	// survived a cut; salvaged: the agent has salvaged it since (it
	// answered the register after starting).
	damaged, salvaged, salvages, prunes := false, false, 0, 0
	for i := range cycles {
		oldBatch := ""
		var wait time.Duration
		switch {
		case damaged:
			// Cut once the agent, having salvaged the store, answers the
			// register: that salvage must survive the cut.
			salvaged = true
			wait = time.Duration(rng.IntN(300)) * time.Millisecond
		case damages && !damaged && i%damageEvery == damageEvery-1:
			h.damage(t)
			damaged = true
			wait = time.Duration(rng.IntN(400)) * time.Millisecond // during or soon after the salvage
		case !damaged && i%oldEvery == oldEvery-1:
			oldBatch = fmt.Sprintf("old-%04d-", i)
			h.seedOld(t, oldBatch)
			wait = time.Duration(rng.IntN(800)) * time.Millisecond // before, during or after the prune
		default:
			wait = time.Duration(50+rng.IntN(1200)) * time.Millisecond
		}
		seen := h.reg.statuses()
		cmd := startAgent(t, h.bin, h.config)
		if salvaged {
			h.reg.waitStatus(t, seen)
		}
		time.Sleep(wait) // a random moment to cut the power at, not a wait for an event
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if err := h.fs.Cut(); err != nil {
			t.Fatalf("cut %d: %v", i+1, err)
		}
		ps, err := h.list()
		switch {
		case err != nil && salvaged:
			t.Fatalf("after cut %d the store is the damaged file again, though the agent had salvaged it and answered the register before the cut: the salvage did not survive the power cut (%v)", i+1, err)
		case err != nil && damaged:
			continue // cut during the salvage: the next start salvages again
		case err != nil:
			t.Fatalf("after cut %d the store does not open without salvage: %v", i+1, err)
		}
		if damaged {
			salvages++
			damaged, salvaged = false, false
		}
		if oldBatch != "" && !slices.ContainsFunc(ps, func(p queue.Payment) bool { return bytes.HasPrefix([]byte(p.RequestID), []byte(oldBatch)) }) {
			prunes++
		}
		if !h.check(t, fmt.Sprintf("after cut %d", i+1), ps, false) {
			t.FailNow()
		}
	}
	cut := time.Since(started)
	stop()
	<-streamDone

	// A last run settles every payment and delivers every result.
	cmd = startAgent(t, h.bin, h.config)
	h.srv.Script("last", payFail.script())
	h.reg.waitReady(t, "last")
	if missing := h.reg.waitResults(); len(missing) > 0 {
		t.Errorf("at the end: gave up waiting for the RESULT of %d payments (%v); the store says why", len(missing), missing[:min(len(missing), 10)])
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("the last agent did not stop cleanly on SIGTERM: %v", err)
	}
	ps, err := h.list()
	if err != nil {
		t.Fatalf("at the end the store does not open without salvage: %v", err)
	}
	h.check(t, "at the end", ps, true)
	accepted := len(h.reg.accepted())
	lost := 0
	stored := map[string]bool{}
	for _, p := range ps {
		stored[p.RequestID] = true
	}
	for req := range h.reg.accepted() {
		if !stored[req] {
			lost++
		}
	}
	t.Logf("%d cuts in %v (%d after a salvage of a damaged store, %d after pruning), %d Alipay calls", cycles, cut.Round(time.Second), salvages, prunes, len(h.srv.Calls()))
	fmt.Printf("power cut: %d cuts, %d payments accepted, %d lost\n", cycles, accepted, lost)
}

// powerCutRig is the binary, its configuration, the lazyfs its store is
// on, the fake Alipay and the register.
type powerCutRig struct {
	bin, config, db string
	fs              *lazyfs.Mount
	srv             *alipaysim.Server
	reg             *payingRegister
}

func newPowerCutRig(t *testing.T) *powerCutRig {
	dir := t.TempDir()
	h := &powerCutRig{bin: postest.BuildPosagent(t, dir)}
	backing, mnt := filepath.Join(dir, "disk"), filepath.Join(dir, "mnt")
	for _, d := range []string{backing, mnt} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	m, err := lazyfs.New(backing, mnt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Unmount() })
	h.fs = m
	h.db = filepath.Join(mnt, "posagent.db")

	h.srv = alipaytest.NewServer(t)
	priv, pub, err := h.srv.WriteKeyFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	line := postest.PTY(t)
	port := filepath.Join(dir, "ttyREGISTER")
	if err := os.Symlink(line.Path, port); err != nil {
		t.Fatal(err)
	}
	h.config = filepath.Join(dir, "posagent.toml")
	postest.WriteConfig(t, h.config, port, h.srv, priv, pub, fmt.Sprintf(`timeout = "2s"
[polling]
interval = "1s"
cancel_after = "10s"
max_rps = 100
[storage]
path = %q
retention = "1h"
[log]
level = "warn"
file = %q
[status]
listen = ""
`, h.db, filepath.Join(dir, "posagent.log")))
	h.reg = newPayingRegister(t, line.Master)
	return h
}

// list reads the store as `posagent queue list` does, read-only: a store
// that fails its integrity check gives an error.
func (h *powerCutRig) list() ([]queue.Payment, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(h.bin, "queue", "list", "-limit", "0", "-json", "-config", h.config) // all, not the newest page
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("posagent queue list: %v: %s", err, stderr.Bytes())
	}
	var ps []queue.Payment
	if err := json.Unmarshal(stdout.Bytes(), &ps); err != nil {
		return nil, fmt.Errorf("posagent queue list printed no payments: %w", err)
	}
	return ps, nil
}

// damage overwrites both meta pages of the store, durably, so that the next
// start must salvage it by scanning its pages; the pages holding payments
// are left intact, so nothing may be lost.
func (h *powerCutRig) damage(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(h.db, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, 2*4096), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// seedOld stores oldPerPrune payments named prefix+N, delivered hours ago,
// which the next start prunes. It runs in a child process: a process that
// maps a file of the mount must not be the one serving it.
func (h *powerCutRig) seedOld(t *testing.T, prefix string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPowerCut$")
	cmd.Env = append(os.Environ(), seedEnv+"="+h.db, "POSAGENT_POWERCUT_PREFIX="+prefix)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("store old payments: %v\n%s", err, out)
	}
}

func seedOldPayments(t *testing.T, path string) {
	old := time.Now().Add(-3 * time.Hour)
	s, err := queue.Open(path, queue.Options{Now: func() time.Time { return old }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Report() != nil {
		t.Fatalf("the store was salvaged: %v", s.Report())
	}
	for i := range oldPerPrune {
		req := fmt.Sprintf("%s%02d", os.Getenv("POSAGENT_POWERCUT_PREFIX"), i)
		if _, _, err := s.Accept(queue.Payment{RequestID: req, Amount: 100, Currency: "USD", AcceptedAt: old, Deadline: old.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		r := queue.Result{Status: queue.Success, PaymentID: "old-" + req, Code: "SUCCESS", Time: old.Format(time.RFC3339)}
		if _, err := s.Finish(req, r, queue.Event{Time: old, Call: queue.CallInquiry, ResultStatus: "S", PaymentStatus: "SUCCESS"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Deliver(req, old); err != nil {
			t.Fatal(err)
		}
	}
}

// check compares the stored payments ps with what the register and the
// fake Alipay saw, reporting what is wrong as errors of t; at the end, every
// payment must be final and its RESULT received. It returns false when it
// found something wrong.
func (h *powerCutRig) check(t *testing.T, when string, ps []queue.Payment, end bool) bool {
	t.Helper()
	bad := false
	fail := func(format string, args ...any) {
		t.Errorf(when+": "+format, args...)
		bad = true
	}
	stored := map[string]queue.Payment{}
	for _, p := range ps {
		stored[p.RequestID] = p
	}
	paid := map[string]bool{}
	for _, c := range h.srv.Calls() {
		if c.API == alipay.APIInquiry && c.Answer == "S SUCCESS" {
			paid[c.PaymentRequestID] = true
		}
	}
	kinds := h.reg.kinds()
	done := h.reg.dones()
	cancelled := h.reg.cancelsAnswered()
	results := h.reg.results()
	for req := range h.reg.accepted() {
		p, ok := stored[req]
		if !ok {
			fail("%s was answered ACCEPTED and is not stored", req)
			continue
		}
		k := kinds[req]
		if !slices.Contains(k.states(cancelled[req]), p.State) {
			fail("%s (%s) is stored %s, which Alipay's answers do not allow", req, k, p.State)
		}
		if p.State == queue.Success && !paid[req] {
			fail("%s is stored SUCCESS, and Alipay never answered SUCCESS for it", req)
		}
		if p.State == queue.Cancelled && paid[req] {
			// CANCELLING is no contradiction: the customer may pay after
			// the cancel was decided, and the next inquiry ends it SUCCESS.
			fail("%s is stored CANCELLED, and Alipay answered SUCCESS for it", req)
		}
		if p.State.Final() && !slices.Contains(k.codes(p.State), p.Result.Code) {
			fail("%s (%s) is stored %s with code %q, want one of %q", req, k, p.State, p.Result.Code, k.codes(p.State))
		}
		if p.Delivered() && !done[req] {
			fail("%s is out of the outbox, and the register never sent DONE for it", req)
		}
		for i, r := range results[req] {
			switch {
			case r.Status != results[req][0].Status || r.Code != results[req][0].Code:
				fail("%s: RESULT %d said %s %s, an earlier one %s %s", req, i+1, r.Status, r.Code, results[req][0].Status, results[req][0].Code)
			case r.Status != string(p.State) || r.Code != p.Result.Code:
				fail("%s: a RESULT said %s %s, and the store holds %s %s", req, r.Status, r.Code, p.State, p.Result.Code)
			}
		}
		if end && len(results[req]) == 0 {
			fail("%s: no RESULT", req)
		}
	}
	for _, c := range h.srv.Calls() {
		if c.API == alipay.APICancel && paid[c.PaymentRequestID] {
			fail("%s was paid but cancelled: %+v", c.PaymentRequestID, c)
		}
	}
	return !bad
}

// payKind is what the fake Alipay plays for a payment of the stream.
type payKind int

const (
	paySuccess        payKind = iota // PROCESSING, then SUCCESS
	payUnknown                       // unknown answers, then SUCCESS
	payFail                          // FAIL
	payTimeout                       // PROCESSING until the PAY's expiry: cancelled
	payRegisterCancel                // PROCESSING; the register cancels
	payMismatch                      // SUCCESS for another amount: cancelled
	payKinds
)

func (k payKind) String() string {
	return [...]string{"success", "unknown answers then success", "fail", "timeout", "register cancel", "amount mismatch"}[k]
}

// script is what the fake Alipay plays for a payment of kind k.
func (k payKind) script() alipaysim.Script {
	var steps []alipaysim.Step
	switch k {
	case paySuccess:
		steps = []alipaysim.Step{alipaysim.Processing(1), alipaysim.Success()}
	case payUnknown:
		steps = []alipaysim.Step{alipaysim.Unknown(2), alipaysim.Success()}
	case payFail:
		steps = []alipaysim.Step{alipaysim.Fail("USER_BALANCE_NOT_ENOUGH")}
	case payMismatch:
		steps = []alipaysim.Step{alipaysim.MismatchedAmount(alipay.Amount{Currency: "USD", Value: "1"})}
	}
	return alipaysim.Script{Steps: steps}
}

// states are the states a payment of kind k may be stored in; once the
// agent answered the register's CANCEL, it never is PENDING again. A payment
// that Alipay would have answered SUCCESS may still reach its deadline first,
// when cuts keep the agent down long enough: the one inquiry before the
// cancel (docs/design.md, rule 9) then finds it still PROCESSING, and it is
// cancelled for good reason. check makes sure that no payment Alipay
// answered SUCCESS for is ever cancelled at Alipay or stored CANCELLED.
func (k payKind) states(cancelAnswered bool) []queue.State {
	switch {
	case k == paySuccess || k == payUnknown:
		return []queue.State{queue.Pending, queue.Success, queue.Cancelling, queue.Cancelled}
	case k == payFail:
		return []queue.State{queue.Pending, queue.Fail}
	case cancelAnswered:
		return []queue.State{queue.Cancelling, queue.Cancelled}
	}
	return []queue.State{queue.Pending, queue.Cancelling, queue.Cancelled}
}

// codes are the result codes a payment of kind k that ended in state may
// have.
func (k payKind) codes(state queue.State) []string {
	switch {
	case (k == paySuccess || k == payUnknown) && state == queue.Success:
		return []string{"SUCCESS"}
	case k == paySuccess || k == payUnknown:
		return []string{device.CodeTimeout}
	case k == payFail:
		return []string{"USER_BALANCE_NOT_ENOUGH"}
	case k == payTimeout:
		return []string{device.CodeTimeout}
	case k == payRegisterCancel:
		// The register's CANCEL may come after the deadline, when its
		// answer was lost to a cut more than once.
		return []string{device.CodeRegisterCancel, device.CodeTimeout}
	}
	return []string{device.CodeAmountMismatch}
}

// payingRegister is the register of the power cut test: a device.Register
// on the pty master, kept open across agents, that pays one payment after
// the other and confirms every RESULT with DONE.
//
// It sends a request again when no answer came within resendAfter: sooner
// than a register would, so that payments flow between cuts that come
// every second or so.
type payingRegister struct {
	*device.Register

	mu        sync.Mutex
	kindOf    map[string]payKind
	cancelled map[string]bool // the agent answered the register's CANCEL
}

func newPayingRegister(t *testing.T, master *os.File) *payingRegister {
	reg := device.NewRegister(device.PortConfig{Path: "register"},
		device.WithOpener(func(ctx context.Context) (device.Conn, error) {
			master.SetReadDeadline(time.Time{})
			return sessionConn{master}, nil
		}))
	reg.SetAutoDone(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); reg.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; master.Close() })
	return &payingRegister{Register: reg, kindOf: map[string]payKind{}, cancelled: map[string]bool{}}
}

// waitReady pays payment req, which fails, and waits for its answer: the
// agent is up and its store open.
func (r *payingRegister) waitReady(t *testing.T, req string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), postest.Guard)
	defer cancel()
	r.mu.Lock()
	r.kindOf[req] = payFail
	r.mu.Unlock()
	if !r.payUntilAnswered(ctx, device.Pay{Req: req, Amount: 100, Currency: "USD"}) {
		t.Fatalf("the agent never answered PAY %s", req)
	}
}

// payStream pays payments of every kind, one after the other, until ctx
// ends.
func (r *payingRegister) payStream(ctx context.Context, srv *alipaysim.Server) {
	for i := 0; ctx.Err() == nil; i++ {
		req := fmt.Sprintf("pc-%05d", i)
		k := payKind(i % int(payKinds))
		srv.Script(req, k.script())
		if !r.payOne(ctx, req, k) {
			return
		}
	}
}

// payOne pays payment req of kind k, whose script the fake Alipay plays
// already, and reports whether the agent answered before ctx ended. The PAY
// is sent again until it is answered; a payment the register cancels gets
// its CANCEL the same way once accepted.
func (r *payingRegister) payOne(ctx context.Context, req string, k payKind) bool {
	r.mu.Lock()
	r.kindOf[req] = k
	r.mu.Unlock()
	pay := device.Pay{Req: req, Amount: 100, Currency: "USD"}
	if k == payTimeout {
		pay.Expiry = 10 * time.Second // the shortest a PAY may ask for
	}
	if !r.payUntilAnswered(ctx, pay) {
		return false
	}
	if k != payRegisterCancel {
		return true
	}
	for ctx.Err() == nil {
		r.Cancel(ctx, req)
		if r.answered(ctx, func(m device.Message) bool {
			s, ok := m.(device.Status)
			return ok && s.Req == req && (s.State == "CANCELLING" || device.IsFinal(s.State))
		}) {
			r.mu.Lock()
			r.cancelled[req] = true
			r.mu.Unlock()
			return true
		}
	}
	return false
}

// payUntilAnswered sends p every resendAfter until the agent answers it ACCEPTED or
// final, and reports whether it did before ctx ended.
func (r *payingRegister) payUntilAnswered(ctx context.Context, p device.Pay) bool {
	for ctx.Err() == nil {
		r.Pay(ctx, p)
		if r.answered(ctx, func(m device.Message) bool {
			s, ok := m.(device.Status)
			return ok && s.Req == p.Req && (s.State == "ACCEPTED" || device.IsFinal(s.State))
		}) {
			return true
		}
	}
	return false
}

// answered waits up to resendAfter for a message that matches.
func (r *payingRegister) answered(ctx context.Context, match func(device.Message) bool) bool {
	wait, cancel := context.WithTimeout(ctx, resendAfter)
	defer cancel()
	_, err := r.WaitMessage(wait, match)
	return err == nil
}

// waitResults waits until every accepted payment has a RESULT, and returns
// those that got none within a minute.
func (r *payingRegister) waitResults() (missing []string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for req := range r.accepted() {
		_, err := r.WaitMessage(ctx, func(m device.Message) bool {
			res, ok := m.(device.Result)
			return ok && res.Req == req
		})
		if err != nil {
			missing = append(missing, req)
		}
	}
	slices.Sort(missing)
	return missing
}

// statuses counts the STATUS messages received so far.
func (r *payingRegister) statuses() int {
	n := 0
	for _, rec := range r.Messages() {
		if _, ok := rec.Msg.(device.Status); ok && !rec.Out {
			n++
		}
	}
	return n
}

// waitStatus waits for a STATUS after the first seen.
func (r *payingRegister) waitStatus(t *testing.T, seen int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), postest.Guard)
	defer cancel()
	n := 0
	_, err := r.WaitMessage(ctx, func(m device.Message) bool {
		if _, ok := m.(device.Status); ok {
			n++
		}
		return n > seen
	})
	if err != nil {
		t.Fatal("gave up waiting for the agent to answer the register")
	}
}

// kinds returns the kind of every payment paid so far.
func (r *payingRegister) kinds() map[string]payKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.kindOf)
}

// cancelsAnswered returns the payments whose CANCEL the agent answered.
func (r *payingRegister) cancelsAnswered() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.cancelled)
}

// accepted returns the payments the agent answered ACCEPTED or final.
func (r *payingRegister) accepted() map[string]bool {
	out := map[string]bool{}
	for _, rec := range r.Messages() {
		if s, ok := rec.Msg.(device.Status); ok && !rec.Out && (s.State == device.StateAccepted || device.IsFinal(s.State)) {
			out[s.Req] = true
		}
	}
	return out
}

// results returns every RESULT received, by payment.
func (r *payingRegister) results() map[string][]device.Result {
	out := map[string][]device.Result{}
	for _, rec := range r.Messages() {
		if res, ok := rec.Msg.(device.Result); ok && !rec.Out {
			out[res.Req] = append(out[res.Req], res)
		}
	}
	return out
}

// dones returns the payments the register sent DONE for.
func (r *payingRegister) dones() map[string]bool {
	out := map[string]bool{}
	for _, rec := range r.Messages() {
		if d, ok := rec.Msg.(device.Done); ok && rec.Out {
			out[d.Req] = true
		}
	}
	return out
}
