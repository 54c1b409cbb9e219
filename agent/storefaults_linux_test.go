//go:build linux

package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/postest"
	"github.com/posagent/posagent/queue"
)

// faultRig runs the real binary with its status endpoint on loopback, a
// register on a pty and the fake Alipay, with its store at a path the test
// chooses, so that the test can take the store's file system or file away
// under it (docs/design.md, "Storage faults").
type faultRig struct {
	t           *testing.T
	bin, config string
	db, dir     string
	status      string // the status endpoint's base URL
	srv         *alipaysim.Server
	reg         *testRegister
	cmd         *exec.Cmd
}

func newFaultRig(t *testing.T, db string) *faultRig {
	t.Helper()
	dir := t.TempDir()
	h := &faultRig{t: t, bin: postest.BuildPosagent(t, dir), db: db, dir: dir}
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
	addr := freeAddr(t, "127.0.0.1")
	h.status = "http://" + addr
	h.config = filepath.Join(dir, "posagent.toml")
	postest.WriteConfig(t, h.config, port, h.srv, priv, pub, fmt.Sprintf(`timeout = "10s"
[polling]
interval = "1s"
cancel_after = "10m"
max_rps = 100
[storage]
path = %q
[log]
level = "info"
file = ""
[status]
listen = %q
`, db, addr))
	h.reg = startRegister(t, line)
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "stderr")); err == nil {
				t.Logf("the agent's log:\n%s", b)
			}
		}
	})
	return h
}

// start runs the binary and waits until it answers the register.
func (h *faultRig) start() {
	h.t.Helper()
	h.run()
	h.srv.Script("ready", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	h.pay("ready", device.StateAccepted)
	h.waitResult("ready", device.StateSuccess)
}

// run starts the binary on the rig's configuration and store. Its log
// goes to the file stderr in the rig's folder, after that of the runs
// before it.
func (h *faultRig) run() {
	h.t.Helper()
	stderr, err := os.OpenFile(filepath.Join(h.dir, "stderr"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		h.t.Fatal(err)
	}
	h.cmd = exec.Command(h.bin, "run", "-config", h.config)
	h.cmd.Stderr = stderr
	if err := h.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	stderr.Close()
	cmd := h.cmd
	h.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// stop ends the binary with SIGTERM, as systemd does, and waits for it.
func (h *faultRig) stop() {
	h.t.Helper()
	h.cmd.Process.Signal(syscall.SIGTERM)
	if err := h.cmd.Wait(); err != nil {
		h.t.Errorf("the agent did not stop cleanly on SIGTERM: %v", err)
	}
}

// pay sends a PAY and checks the STATUS that answers it.
func (h *faultRig) pay(req, state string) device.Status {
	h.t.Helper()
	s := h.reg.request(device.Pay{Req: req, Amount: 100, Currency: "USD"})
	if s.State != state {
		h.t.Fatalf("PAY %s answered %s %s %q; want %s", req, s.State, s.Code, s.Msg, state)
	}
	return s
}

// waitResult waits for the RESULT of req and checks its status.
func (h *faultRig) waitResult(req, status string) {
	h.t.Helper()
	if r := h.reg.result(req); r.Status != status {
		h.t.Fatalf("RESULT %s = %s %s; want %s", req, r.Status, r.Code, status)
	}
}

// succeed makes Alipay answer SUCCESS for req from now on.
func (h *faultRig) succeed(reqs ...string) {
	for _, req := range reqs {
		h.srv.Script(req, alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	}
}

// get fetches a path of the status endpoint.
func (h *faultRig) get(path string) (int, string) {
	h.t.Helper()
	resp, err := http.Get(h.status + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// waitFault waits until /healthz, the page and the metrics show the
// store's fault, or none when fault is "". The agent is another process
// and sends no event for it, so this asks again until a deadline.
func (h *faultRig) waitFault(fault, says string) {
	h.t.Helper()
	deadline := time.Now().Add(postest.Guard)
	for {
		code, body := h.get("/healthz")
		shown := code == http.StatusOK && fault == ""
		if fault != "" {
			shown = code == http.StatusServiceUnavailable && strings.Contains(body, says)
		}
		if shown {
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("/healthz never showed the fault %q (%q): %d %s", fault, says, code, body)
		}
		time.Sleep(20 * time.Millisecond) // asking another process again; it has no event to wait on
	}
	_, metrics := h.get("/metrics")
	for _, f := range []string{"disk_full", "read_only", "file_removed", "file_replaced", "write_failed"} {
		want := fmt.Sprintf("posagent_store_fault{fault=%q} %d\n", f, map[bool]int{false: 0, true: 1}[f == fault])
		if !strings.Contains(metrics, want) {
			h.t.Errorf("the metrics lack %q", want)
		}
	}
	_, page := h.get("/")
	if shown := strings.Contains(page, "NO NEW PAYMENTS"); shown != (fault != "") {
		h.t.Errorf("the status page shows the store fault: %v; want %v", shown, fault != "")
	}
}

// check opens the store after the agent stopped and checks that every
// payment in want is stored in that state and delivered, and that none
// of absent is stored.
func (h *faultRig) check(want map[string]queue.State, absent ...string) {
	h.t.Helper()
	s, err := queue.Open(h.db, queue.Options{ReadOnly: true})
	if err != nil {
		h.t.Fatalf("the store does not open after the faults: %v", err)
	}
	defer s.Close()
	for req, st := range want {
		p, err := s.Get(req)
		switch {
		case err != nil:
			h.t.Errorf("%s, accepted, is lost: %v", req, err)
		case p.State != st || !p.Delivered():
			h.t.Errorf("%s is stored %s, delivered %v; want %s, delivered", req, p.State, p.Delivered(), st)
		}
	}
	for _, req := range absent {
		if _, err := s.Get(req); !errors.Is(err, queue.ErrNotFound) {
			h.t.Errorf("%s, rejected, is stored: %v", req, err)
		}
	}
	if out, err := s.Outbox(); err != nil || len(out) != 0 {
		h.t.Errorf("the outbox holds %d payments (%v); want every result delivered", len(out), err)
	}
}

// waitDelivered waits until the agent stored the DONE for each of reqs,
// which the status endpoint shows.
func (h *faultRig) waitDelivered(reqs ...string) {
	h.t.Helper()
	deadline := time.Now().Add(postest.Guard)
	for _, req := range reqs {
		for {
			_, body := h.get("/api/payments/" + req)
			if strings.Contains(body, `"deliveredAt"`) {
				break
			}
			if time.Now().After(deadline) {
				h.t.Fatalf("the DONE for %s was never stored: %s", req, body)
			}
			time.Sleep(20 * time.Millisecond) // asking another process again; it has no event to wait on
		}
	}
}

// TestFullDiskRefusesNewPaymentsAndFinishesAccepted runs the real binary
// with its store on a 1 MiB tmpfs that a filler file fills up: a PAY is
// then rejected STORAGE_ERROR, the payments accepted before are polled to
// their end and delivered in the room the store reserved, and once the
// filler is gone the agent takes payments again without a restart.
func TestFullDiskRefusesNewPaymentsAndFinishesAccepted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := postest.Tmpfs(t, "1m")
	h := newFaultRig(t, filepath.Join(dir, "posagent.db"))
	h.start()
	before := []string{"full-1", "full-2", "full-3"}
	for _, req := range before {
		h.pay(req, device.StateAccepted) // PROCESSING until succeed
	}
	filler := filepath.Join(dir, "filler")
	postest.FillDisk(t, filler)

	s := h.pay("full-new", device.StateRejected)
	if s.Code != device.CodeStorageError {
		t.Fatalf("PAY on a full disk answered REJECTED %s; want STORAGE_ERROR", s.Code)
	}
	h.waitFault("disk_full", "full")
	h.succeed(before...)
	for _, req := range before {
		h.waitResult(req, device.StateSuccess)
	}
	h.waitDelivered(before...)
	h.pay("full-new-2", device.StateRejected)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	h.pay("full-after", device.StateAccepted)
	h.waitFault("", "")
	h.succeed("full-after")
	h.waitResult("full-after", device.StateSuccess)
	h.waitDelivered("full-after")
	h.stop()
	h.check(map[string]queue.State{"ready": queue.Success, "full-1": queue.Success, "full-2": queue.Success,
		"full-3": queue.Success, "full-after": queue.Success}, "full-new", "full-new-2")
}

// TestStoreFileRemovedOrReplacedUnderTheAgent removes the store file under
// the running binary, then puts another file in its place. A removed file
// is written back at once and nothing is lost; a replaced one stops every
// write (no RESULT goes out for an answer that cannot be stored) and every
// new payment, keeps a copy of the store beside it, and shows what to do;
// once the other file is moved aside the agent writes its store back and
// carries on.
func TestStoreFileRemovedOrReplacedUnderTheAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "posagent.db")
	h := newFaultRig(t, db)
	h.start()
	h.pay("gone-1", device.StateAccepted)

	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	// The agent writes the file back by itself: a new PAY finds it there.
	h.pay("gone-2", device.StateAccepted)
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("the store was not written back: %v", err)
	}
	h.succeed("gone-1")
	h.waitResult("gone-1", device.StateSuccess)
	h.waitDelivered("gone-1")
	h.waitFault("", "")

	// A SUCCESS on its way when the file is replaced cannot be stored, so
	// no RESULT goes out for it until the store is back.
	foreign := filepath.Join(dir, "foreign")
	postest.WriteFile(t, foreign, "a file someone put there")
	success := h.successOnItsWay("gone-2")
	if err := os.Rename(foreign, db); err != nil {
		t.Fatal(err)
	}
	s := h.pay("gone-new", device.StateRejected)
	if s.Code != device.CodeStorageError {
		t.Fatalf("PAY with the store file replaced answered REJECTED %s; want STORAGE_ERROR", s.Code)
	}
	h.waitFault("file_replaced", "replaced by another file")
	kept, _ := filepath.Glob(db + ".kept-*")
	if len(kept) != 1 {
		t.Fatalf("want one copy of the store kept beside it, found %v", kept)
	}
	h.waitAnswered(success)
	if rs := h.reg.resultsFor("gone-2"); len(rs) != 0 {
		t.Fatalf("a RESULT was sent while the store could not commit it: %+v", rs)
	}
	if b, err := os.ReadFile(db); err != nil || string(b) != "a file someone put there" {
		t.Fatalf("the agent changed the file put in its store's place: %q, %v", b, err)
	}

	if err := os.Rename(db, foreign); err != nil {
		t.Fatal(err)
	}
	h.waitResult("gone-2", device.StateSuccess)
	h.waitDelivered("gone-2")
	h.pay("gone-after", device.StateAccepted)
	h.waitFault("", "")
	if kept, _ := filepath.Glob(db + ".kept-*"); len(kept) != 0 {
		t.Errorf("the copy kept while the file was replaced is still there once the store was written back: %v", kept)
	}
	h.succeed("gone-after")
	h.waitResult("gone-after", device.StateSuccess)
	h.waitDelivered("gone-after")
	h.stop()
	h.check(map[string]queue.State{"ready": queue.Success, "gone-1": queue.Success, "gone-2": queue.Success,
		"gone-after": queue.Success}, "gone-new")
}

// successOnItsWay makes Alipay answer SUCCESS for req after a delay and
// returns that call once it has arrived: the answer is then on its way.
// The delay leaves the test ample time to break the store first.
func (h *faultRig) successOnItsWay(req string) alipaysim.Call {
	h.t.Helper()
	from := len(h.srv.Calls())
	h.srv.Script(req, alipaysim.Script{Steps: []alipaysim.Step{alipaysim.SuccessAfter(2 * time.Second)}})
	ctx, cancel := context.WithTimeout(context.Background(), postest.Guard)
	defer cancel()
	for n := from + 1; ; n++ {
		calls, err := h.srv.WaitCalls(ctx, n)
		if err != nil {
			h.t.Fatalf("gave up waiting for the inquiry of %s", req)
		}
		if c := calls[n-1]; c.PaymentRequestID == req && strings.HasPrefix(c.Answer, "S SUCCESS") {
			return c
		}
	}
}

// waitAnswered waits until the agent has the answer to call c: every
// call that has reached Alipay so far, c among them, has ended, which
// the agent counts in posagent_alipay_calls_total when it takes the
// answer, just before it commits what the answer means. The metrics are
// read before the calls that arrived, so that equal counts say that each
// call counted as arrived has ended. The agent is another process and
// sends no event for it, so this asks again until a deadline.
func (h *faultRig) waitAnswered(c alipaysim.Call) {
	h.t.Helper()
	deadline := time.Now().Add(postest.Guard)
	for {
		_, metrics := h.get("/metrics")
		ended := 0
		for _, line := range strings.Split(metrics, "\n") {
			if !strings.HasPrefix(line, "posagent_alipay_calls_total{") {
				continue
			}
			var n int
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &n); err != nil {
				h.t.Fatalf("unreadable metric line %q: %v", line, err)
			}
			ended += n
		}
		if arrived := len(h.srv.Calls()); ended == arrived {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("the agent never got the answer to the inquiry of %s", c.PaymentRequestID)
		}
		time.Sleep(20 * time.Millisecond) // asking another process again; it has no event to wait on
	}
}
