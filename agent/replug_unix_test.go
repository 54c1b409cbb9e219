//go:build unix

package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/postest"
	"github.com/posagent/posagent/queue"
)

// cable is a register on a pseudo-terminal that the test plugs in behind the
// agent's configured port path and pulls out again.
type cable struct {
	t   *testing.T
	pty *device.PTY // its terminal side is the device plugged in
	reg *testRegister
}

// newCable opens a pseudo-terminal, set raw as a serial line is. Nothing is
// plugged in yet.
func newCable(t *testing.T) *cable {
	t.Helper()
	p := postest.PTY(t)
	// Opening the port sets it raw; do so before the register writes, so
	// that no echo of a cooked terminal reaches it.
	raw, err := device.OpenPort(context.Background(), device.PortConfig{Path: p.Path})
	if err != nil {
		t.Fatalf("setting the pty raw: %v", err)
	}
	raw.Close()
	return &cable{t: t, pty: p}
}

// plug points path at the cable's device, replacing what it pointed at in
// one step as udev does with a /dev/serial/by-id name, and starts the
// register on the far end.
func (c *cable) plug(path string) *testRegister {
	c.t.Helper()
	next := path + ".next"
	if err := os.Symlink(c.pty.Path, next); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(next, path); err != nil {
		c.t.Fatal(err)
	}
	// Opened once: when the cable is pulled, the register's end goes too.
	c.reg = startRegisterWith(c.t, device.OpenOnce(c.pty.Conn()))
	return c.reg
}

// unplug pulls the cable: the device goes away (its master and every other
// descriptor of the test close) and so does the path.
func (c *cable) unplug(path string) {
	c.t.Helper()
	c.pty.Close()
	if err := os.Remove(path); err != nil {
		c.t.Fatal(err)
	}
}

// TestReplugBehindARepointedPortPath runs the agent on a port path that is a
// symlink, as /dev/serial/by-id names are. The cable is pulled while a
// payment is open; its result comes while the link is down. Plugged in again
// the adapter has another device name behind the same path: the agent finds
// it, the pending RESULT is delivered and confirmed, and payments flow.
func TestReplugBehindARepointedPortPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "usb-register-if00")
	first := newCable(t)
	// Open the second device now, so that it cannot get the first one's
	// freed name: the replug must be found through the repointed path.
	second := newCable(t)
	if first.pty.Path == second.pty.Path {
		t.Fatal("two ptys with one name")
	}

	srv := alipaytest.NewServer(t)
	client, err := alipay.NewClient(srv.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, srv: srv, client: client, dbPath: filepath.Join(t.TempDir(), "posagent.db"), slave: path}
	r.reg = first.plug(path)
	srv.Script("pending", alipaysim.Script{}) // PROCESSING until scripted again
	opts := testOptions()
	opts.CancelAfter = time.Minute
	r.start(opts)
	r.waitAgent("the link up on the first device", func(s Snapshot) bool { return s.LinkUp && s.LinkDevice == first.pty.Path })
	if st := r.pay("pending", 100, 0); st.State != "ACCEPTED" {
		t.Fatalf("PAY answered %+v, want ACCEPTED", st)
	}

	first.unplug(path)
	r.waitAgent("the link down", func(s Snapshot) bool { return !s.LinkUp })
	// Alipay's answer comes while the cable is out: the payment is final
	// in the store, its RESULT cannot go out.
	srv.Script("pending", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	r.waitAgent("the payment final while unplugged", func(Snapshot) bool {
		p, err := r.store.Get("pending")
		return err == nil && p.State == queue.Success
	})
	// Reopening the missing path fails, says so, and is retried.
	r.waitAgent("a failed reopen of the missing path", func(s Snapshot) bool {
		return !s.LinkUp && strings.Contains(s.LinkError, "not found")
	})

	r.reg = second.plug(path)
	r.waitAgent("the link up on the second device", func(s Snapshot) bool { return s.LinkUp && s.LinkDevice == second.pty.Path })
	if res := r.reg.result("pending"); res.Status != "SUCCESS" || res.Amount != 100 {
		t.Fatalf("RESULT after the replug %+v, want SUCCESS for 100", res)
	}
	waitDelivered(t, r, "pending")

	srv.Script("after", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Processing(1), alipaysim.Success()}})
	if st := r.pay("after", 100, 0); st.State != "ACCEPTED" {
		t.Fatalf("PAY after the replug answered %+v, want ACCEPTED", st)
	}
	if res := r.reg.result("after"); res.Status != "SUCCESS" || res.Amount != 100 {
		t.Fatalf("RESULT %+v, want SUCCESS for 100", res)
	}
	waitDelivered(t, r, "after")

	// No RESULT reached the unplugged register, and every one the new one
	// got says the same.
	if got := first.reg.resultsFor("pending"); len(got) != 0 {
		t.Errorf("the first register got RESULTs %+v, sent after the unplug", got)
	}
	for _, req := range []string{"pending", "after"} {
		for _, res := range second.reg.resultsFor(req) {
			if res.Status != "SUCCESS" {
				t.Errorf("%s: a RESULT said %s, want SUCCESS", req, res.Status)
			}
		}
	}
}
