//go:build linux && (amd64 || arm64)

package agent

import (
	"path/filepath"
	"testing"

	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/lazyfs"
	"github.com/posagent/posagent/queue"
)

// TestReadOnlyFileSystemRefusesNewPaymentsAndDeliversLater runs the real
// binary with its store on a lazyfs mount that turns read-only under it.
// (Linux refuses `mount -o remount,ro` while a program holds a file open
// for writing, as posagent holds its store; lazyfs answers EROFS as a file
// system the kernel turned read-only does.) A PAY is then rejected
// STORAGE_ERROR; a SUCCESS that arrives meanwhile is kept in memory and no
// RESULT goes out for it until it is committed, once the file system is
// read-write again, when the agent also takes payments again by itself.
func TestReadOnlyFileSystemRefusesNewPaymentsAndDeliversLater(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if err := lazyfs.Available(); err != nil {
		t.Skipf("a read-only file system is simulated with a FUSE file system, which cannot be mounted here: %v", err)
	}
	backing, mnt := t.TempDir(), t.TempDir()
	m, err := lazyfs.New(backing, mnt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Unmount() })
	h := newFaultRig(t, filepath.Join(mnt, "posagent.db"))
	h.start()
	h.pay("ro-1", device.StateAccepted)

	success := h.successOnItsWay("ro-1")
	m.SetReadOnly(true)
	s := h.pay("ro-new", device.StateRejected)
	if s.Code != device.CodeStorageError {
		t.Fatalf("PAY on a read-only file system answered REJECTED %s; want STORAGE_ERROR", s.Code)
	}
	h.waitFault("read_only", "read-only")
	h.waitAnswered(success)
	if rs := h.reg.resultsFor("ro-1"); len(rs) != 0 {
		t.Fatalf("a RESULT was sent while the store could not commit it: %+v", rs)
	}
	h.pay("ro-new-2", device.StateRejected)

	m.SetReadOnly(false)
	h.waitResult("ro-1", device.StateSuccess)
	h.waitDelivered("ro-1")
	h.pay("ro-after", device.StateAccepted)
	h.waitFault("", "")
	h.succeed("ro-after")
	h.waitResult("ro-after", device.StateSuccess)
	h.waitDelivered("ro-after")
	h.stop()
	// The agent stopped cleanly, so the backing folder holds all it wrote.
	// The store is read there, not through the mount: a process that maps
	// a file of the mount must not be the one serving it (a page fault
	// there waits on this process's own file system server, which may be
	// waiting to stop the world for a collection).
	h.db = filepath.Join(backing, "posagent.db")
	h.check(map[string]queue.State{"ready": queue.Success, "ro-1": queue.Success, "ro-after": queue.Success}, "ro-new", "ro-new-2")
}
