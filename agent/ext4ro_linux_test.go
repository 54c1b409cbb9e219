//go:build linux

package agent

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/postest"
	"github.com/posagent/posagent/queue"
)

// ext4Disk is an ext4 file system in an image file, on a loop device,
// mounted with errors=remount-ro as a terminal's SD card is, so that the
// kernel itself turns it read-only when ext4 meets an error.
type ext4Disk struct {
	t   *testing.T
	dev string // the loop device, /dev/loopN
	dir string // where it is mounted
}

// mountExt4 makes and mounts an ext4Disk, or skips the test where that
// cannot be done here. The mount and the loop device are undone when the
// test ends, however it ends; tests register this cleanup before they
// start anything that holds files on the disk, so that it runs last.
func mountExt4(t *testing.T) *ext4Disk {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a loop device needs root")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skipf("no loop devices here: %v", err)
	}
	for _, tool := range []string{"mkfs.ext4", "e2fsck", "losetup"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing (e2fsprogs and util-linux have them): %v", tool, err)
		}
	}
	img := filepath.Join(t.TempDir(), "sd.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).CombinedOutput()
	if err != nil {
		t.Skipf("cannot attach the image to a loop device: %v: %s", err, out)
	}
	d := &ext4Disk{t: t, dev: strings.TrimSpace(string(out)), dir: t.TempDir()}
	t.Cleanup(func() {
		syscall.Unmount(d.dir, syscall.MNT_DETACH)
		if out, err := exec.Command("losetup", "-d", d.dev).CombinedOutput(); err != nil {
			t.Errorf("cannot detach the loop device %s: %v: %s", d.dev, err, out)
		}
	})
	if err := d.mount(); err != nil {
		t.Skipf("cannot mount an ext4 file system here: %v", err)
	}
	if _, err := os.Stat(d.trigger()); err != nil {
		t.Skipf("this kernel cannot be made to meet an ext4 error: %v", err)
	}
	return d
}

// mount mounts the disk read-write, with errors=remount-ro.
func (d *ext4Disk) mount() error {
	return syscall.Mount(d.dev, d.dir, "ext4", 0, "errors=remount-ro")
}

// trigger is the sysfs file that makes ext4 act as on an error it found.
func (d *ext4Disk) trigger() string {
	return filepath.Join("/sys/fs/ext4", filepath.Base(d.dev), "trigger_fs_error")
}

// fail makes ext4 meet an error, as on a failing card, and waits until the
// kernel has turned the file system read-only.
func (d *ext4Disk) fail() {
	d.t.Helper()
	if err := os.WriteFile(d.trigger(), []byte("1"), 0); err != nil {
		d.t.Fatal(err)
	}
	deadline := time.Now().Add(postest.Guard)
	for {
		opts := d.options()
		if d.readOnly(opts) {
			d.t.Logf("after the ext4 error /proc/mounts says %s", opts)
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("the kernel did not turn the file system read-only after the error: %s", opts)
		}
		time.Sleep(10 * time.Millisecond) // the kernel sends no event for it
	}
}

// options returns the disk's mount options from /proc/mounts.
func (d *ext4Disk) options() string {
	d.t.Helper()
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		d.t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[0] == d.dev && f[1] == d.dir {
			return f[3]
		}
	}
	d.t.Fatalf("%s is not mounted on %s", d.dev, d.dir)
	return ""
}

// readOnly reports whether mount options say the file system is
// read-only: "ro", or, where ext4 turned it read-only after an error
// without marking the mount so, "emergency_ro".
func (d *ext4Disk) readOnly(opts string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == "ro" || o == "emergency_ro" {
			return true
		}
	}
	return false
}

// writable reports whether a file can be made on the disk now.
func (d *ext4Disk) writable() bool {
	f, err := os.CreateTemp(d.dir, "probe-")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}

// remount asks to make the file system read-write again in place, as a
// technician would with `mount -o remount,rw`, then with the bare
// mount(2) call (mount(8) passes back the options the kernel lists, which
// ext4 may not take), and reports whether it then takes writes.
func (d *ext4Disk) remount() bool {
	d.t.Helper()
	out, err := exec.Command("mount", "-o", "remount,rw", d.dir).CombinedOutput()
	d.t.Logf("mount -o remount,rw: %v %s", err, bytes.TrimSpace(out))
	err = syscall.Mount(d.dev, d.dir, "ext4", syscall.MS_REMOUNT, "errors=remount-ro")
	ok := !d.readOnly(d.options()) && d.writable()
	d.t.Logf("mount(2) MS_REMOUNT: %v; the mount options are now %s; writable: %v", err, d.options(), ok)
	return ok
}

// repair does what a technician does once nothing holds a file on the
// disk: unmount it, check it with e2fsck (which replays the journal ext4
// aborted and clears the error), and mount it again.
func (d *ext4Disk) repair() {
	d.t.Helper()
	if err := syscall.Unmount(d.dir, 0); err != nil {
		d.t.Fatalf("cannot unmount the failed file system: %v", err)
	}
	out, err := exec.Command("e2fsck", "-f", "-y", d.dev).CombinedOutput()
	// 0: no errors; 1: errors corrected.
	if code := exitCode(err); code > 1 {
		d.t.Fatalf("e2fsck could not repair the file system (exit status %d): %v\n%s", code, err, out)
	}
	if err := d.mount(); err != nil {
		d.t.Fatalf("cannot mount the repaired file system: %v", err)
	}
	if opts := d.options(); d.readOnly(opts) || !d.writable() {
		d.t.Fatalf("the repaired file system is still read-only: %s", opts)
	}
}

// exitCode is the exit status of a command's error, 0 for none.
func exitCode(err error) int {
	if exit, ok := errors.AsType[*exec.ExitError](err); ok {
		return exit.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestKernelTurnsTheStoreReadOnly runs the real binary with its store on
// a real ext4 file system, mounted errors=remount-ro, that the kernel
// turns read-only under it after an ext4 error, as it does on a failing
// SD card. A new PAY is then rejected STORAGE_ERROR; answers that arrive
// for the payments accepted before cannot be committed, so no RESULT goes
// out for them; /healthz and the status page show the fault. ext4 lets no
// file system that met an error become read-write again while it is
// mounted, so the test then does what a technician does: stop the agent,
// unmount, e2fsck, mount, start it again. Nothing accepted is lost: every
// RESULT is delivered after the repair, and new payments are taken.
// (Where a kernel lets the remount succeed, the agent must carry on by
// itself, with no restart.)
func TestKernelTurnsTheStoreReadOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	d := mountExt4(t)
	h := newFaultRig(t, filepath.Join(d.dir, "posagent.db"))
	h.start()
	for _, req := range []string{"sd-1", "sd-2", "sd-3"} {
		h.pay(req, device.StateAccepted) // PROCESSING until scripted
	}
	// sd-1 ends before the error: committed, it must survive it and the
	// repair.
	h.succeed("sd-1")
	h.waitResult("sd-1", device.StateSuccess)
	h.waitDelivered("sd-1")

	// sd-2's SUCCESS is on its way when the card fails; sd-3 is still
	// PROCESSING.
	success := h.successOnItsWay("sd-2")
	d.fail()
	s := h.pay("sd-new", device.StateRejected)
	if s.Code != device.CodeStorageError {
		t.Fatalf("PAY on a file system the kernel turned read-only answered REJECTED %s; want STORAGE_ERROR", s.Code)
	}
	h.waitFault("read_only", "read-only")
	h.waitAnswered(success)
	h.pay("sd-new-2", device.StateRejected)
	for _, req := range []string{"sd-2", "sd-3"} {
		if rs := h.reg.resultsFor(req); len(rs) != 0 {
			t.Fatalf("a RESULT was sent while the store could not commit it: %+v", rs)
		}
	}

	if !d.remount() {
		h.stop()
		d.repair()
		h.run()
	}
	h.succeed("sd-3")
	h.waitResult("sd-2", device.StateSuccess)
	h.waitResult("sd-3", device.StateSuccess)
	h.waitDelivered("sd-2", "sd-3")
	h.pay("sd-after", device.StateAccepted)
	h.waitFault("", "")
	h.succeed("sd-after")
	h.waitResult("sd-after", device.StateSuccess)
	h.waitDelivered("sd-after")
	h.stop()
	h.check(map[string]queue.State{"ready": queue.Success, "sd-1": queue.Success, "sd-2": queue.Success,
		"sd-3": queue.Success, "sd-after": queue.Success}, "sd-new", "sd-new-2")
}
