package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/posagent/posagent/queue"
)

// storeFault is a condition of the payment store's file or file system
// that stops the agent from taking new payments while it lasts
// (docs/design.md, "Storage faults"). Payments already accepted carry on.
type storeFault int

const (
	faultNone     storeFault = iota
	faultFull                // too little free space
	faultReadOnly            // the file system refuses writes
	faultRemoved             // the store file was removed and could not be written back yet
	faultReplaced            // another file took the store file's place
	faultWrite               // the store failed to commit for another reason
	faultDamaged             // the integrity check in the background found the file damaged
)

// String is the fault's name on /api/status and in the metrics' label.
func (f storeFault) String() string {
	switch f {
	case faultNone:
		return ""
	case faultFull:
		return "disk_full"
	case faultReadOnly:
		return "read_only"
	case faultRemoved:
		return "file_removed"
	case faultReplaced:
		return "file_replaced"
	case faultWrite:
		return "write_failed"
	case faultDamaged:
		return "damaged"
	}
	return fmt.Sprintf("fault_%d", int(f))
}

// Storage settings.
const (
	// storeCheckEvery is how often the store's file and file system are
	// looked at while all is well, and storeCheckFaulty while a fault
	// lasts, so that the agent notices the fault's end by itself.
	storeCheckEvery  = 5 * time.Second
	storeCheckFaulty = time.Second
	// minFree is the free space below which no new payment is taken: the
	// file system is then full, whatever the store has reserved.
	minFree = 256 << 10
	// The room kept allocated in the store file past what it uses, so
	// that the payments accepted can be driven to the end and delivered
	// on a full disk: a base for bbolt's copy-on-write pages, and room
	// for each payment's record to grow to its full audit trail.
	headroomBase       = 64 << 10
	headroomPerPayment = 16 << 10
)

// storeHealth is the loop's view of the store's file and file system.
// Owned by the loop goroutine.
type storeHealth struct {
	fault   storeFault
	problem string        // for the technician: what happened and what to do
	next    time.Duration // when to look again (monotonic)
	kept    string        // the copy of the store saved when its file was replaced
	damaged string        // what the integrity check in the background found; it lasts until a restart salvages the file
}

// headroom is the room to keep for the payments the agent holds plus more.
func (a *Agent) headroom(more int) int64 {
	n := a.table.planned() + a.table.calls() + len(a.resend) + more
	return headroomBase + int64(n)*headroomPerPayment
}

// watchStore looks at the store when a look is due and returns how long
// until the next one.
func (a *Agent) watchStore(now time.Time) time.Duration {
	if wait := a.health.next - a.mono(); wait > 0 {
		return wait
	}
	a.checkStore(now, 0)
	return a.health.next - a.mono()
}

// checkStore looks at the store's file and file system now, mends what it
// can (a removed file is written back), reserves room for the payments
// held and more new ones, and records the fault found, if any. When a
// fault ends, every payment whose decision the store refused is due again
// at once.
func (a *Agent) checkStore(now time.Time, more int) {
	fault, problem := a.diagnose(now, more)
	a.setFault(fault, problem)
}

// diagnose finds the store's fault, if any, and says what to do about it.
func (a *Agent) diagnose(now time.Time, more int) (storeFault, string) {
	if a.health.damaged != "" {
		return faultDamaged, a.health.damaged
	}
	path := a.store.Path()
	place, err := a.store.Place()
	if err != nil {
		return faultWrite, err.Error() + "; check the folder's permissions"
	}
	switch place {
	case queue.Removed:
		if err := a.store.Restore(); err != nil {
			return faultRemoved, fmt.Sprintf("the store file %s was removed while posagent ran and cannot be written back yet (%v); posagent refuses new payments and keeps what it holds: make room or fix the folder, and it writes the file back by itself", path, err)
		}
		a.log.Error().Str("store", path).Msg("the store file was removed while posagent ran; posagent wrote the payments it holds back to it and carries on: find out what removed it")
		if a.health.kept != "" {
			os.Remove(a.health.kept) // the file written back holds all it holds, and more
			a.health.kept = ""
		}
	case queue.Replaced:
		if a.health.kept == "" {
			kept := path + ".kept-" + now.UTC().Format("20060102T150405Z")
			if err := a.store.SaveCopy(kept); err != nil {
				a.log.Error().Err(err).Msg("cannot save a copy of the payment store beside the file that replaced it")
			} else {
				a.health.kept = kept
			}
		}
		saved := "posagent still holds them open"
		if a.health.kept != "" {
			saved = "a copy is saved as " + a.health.kept
		}
		return faultReplaced, fmt.Sprintf("the store file %s was replaced by another file while posagent ran; posagent stopped writing and refuses new payments, and its payments are safe (%s): move the file now at %s aside (do not delete it) and posagent writes its store back by itself", path, saved, path)
	}
	sp, spaceErr := a.store.Space()
	if spaceErr == nil && sp.ReadOnly {
		return faultReadOnly, readOnlyProblem(path)
	}
	if a.health.fault != faultNone || len(a.storeFails) > 0 {
		// A commit failed: only another commit tells whether they work
		// again.
		if err := a.store.Probe(); err != nil {
			return a.classify(err)
		}
	}
	if spaceErr == nil && sp.Free < minFree {
		return faultFull, fullProblem(path, sp.Free)
	}
	if err := a.store.Reserve(a.headroom(more)); err != nil {
		return a.classify(err)
	}
	return faultNone, ""
}

// classify names the fault behind a failed store call.
func (a *Agent) classify(err error) (storeFault, string) {
	path := a.store.Path()
	switch {
	case errors.Is(err, queue.ErrDetached):
		if place, _ := a.store.Place(); place == queue.Replaced {
			return faultReplaced, fmt.Sprintf("the store file %s was replaced by another file while posagent ran; posagent stopped writing: move the file now at %s aside (do not delete it) and posagent writes its store back by itself", path, path)
		}
		return faultRemoved, fmt.Sprintf("the store file %s was removed while posagent ran; posagent is writing it back", path)
	case readOnlyFS(err):
		// Before the full disk: room that cannot be reserved on a
		// read-only file system is ErrNoRoom wrapping EROFS.
		return faultReadOnly, readOnlyProblem(path)
	case errors.Is(err, queue.ErrNoRoom), noSpace(err):
		return faultFull, fullProblem(path, 0)
	}
	return faultWrite, fmt.Sprintf("the store %s cannot commit (%v); posagent refuses new payments and tries again: check the disk and the system log", path, err)
}

func fullProblem(path string, free uint64) string {
	return fmt.Sprintf("the disk of the store %s is full (%d KiB free); posagent refuses new payments and finishes the accepted ones in the room it reserved: free space on that disk and it carries on by itself", path, free>>10)
}

func readOnlyProblem(path string) string {
	return fmt.Sprintf("the file system of the store %s is read-only; posagent refuses new payments and keeps the answers it cannot store in memory: the system log says why, and posagent carries on by itself once it is read-write again; after an ext4 error, which Linux does not undo while the disk is mounted, stop posagent, unmount the disk, check it with e2fsck, mount it and start posagent: nothing accepted is lost", path)
}

// storeTrouble records what a failed store call says about the store and
// looks again soon.
func (a *Agent) storeTrouble(err error) {
	if errors.Is(err, queue.ErrConflict) || errors.Is(err, queue.ErrNotFound) || errors.Is(err, queue.ErrFinal) ||
		errors.Is(err, queue.ErrNotFinal) || errors.Is(err, queue.ErrInvalid) || errors.Is(err, queue.ErrTransition) {
		return // about the payment, not the store
	}
	a.setFault(a.classify(err))
}

// setFault records the store's fault (faultNone: none) and plans the next
// look. The start and end of a fault are logged and shown; at its end,
// every payment waiting to commit a decision is due at once.
func (a *Agent) setFault(fault storeFault, problem string) {
	old, oldProblem := a.health.fault, a.health.problem
	a.health.fault, a.health.problem = fault, problem
	if fault == faultNone {
		a.health.next = a.mono() + storeCheckEvery
	} else {
		a.health.next = a.mono() + storeCheckFaulty
	}
	if problem != oldProblem {
		a.setState(func(s *Snapshot) { s.StoreFault, s.StoreProblem = fault.String(), problem })
	}
	if fault == old {
		return
	}
	switch {
	case fault != faultNone:
		a.log.Error().Str("fault", fault.String()).Msg(problem)
	case old != faultNone:
		a.log.Info().Str("was", old.String()).Msg("the payment store works again; taking new payments")
		now := a.mono()
		for req := range a.storeFails {
			delete(a.storeFails, req)
			if !a.table.inFlight(req) {
				a.table.plan(req, now)
			}
		}
	}
}

// roomForPay reports why n new payments cannot be taken now, or nil. The
// store is looked at afresh (a fault's end is noticed at once, a removed
// file written back): it must be free of faults, its file system must
// have minFree, and the room for every payment held, these n included,
// must be reserved. PAYs come once a sale, and those that arrive together
// share one look, so the look costs little.
func (a *Agent) roomForPay(now time.Time, n int) error {
	a.checkStore(now, n)
	if a.health.fault != faultNone {
		return errors.New(a.health.problem)
	}
	return nil
}

// verifyDelay is how long after start the integrity check in the
// background begins, so that the register is served first.
const verifyDelay = 2 * time.Second

// verifyStore runs the store's integrity check in full in the background
// (queue.Store.Verify), once, shortly after start, when Open did not
// check the file in full, and hands its outcome to the loop.
func (a *Agent) verifyStore(ctx context.Context) {
	t := time.NewTimer(verifyDelay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-t.C:
	}
	start := time.Now()
	err := a.store.Verify(ctx)
	if ctx.Err() != nil {
		return
	}
	if err == nil {
		a.log.Info().Dur("took", time.Since(start)).Msg("the payment store passed its integrity check")
	}
	a.verified <- err // buffered: the check runs once
}

// storeVerified takes the outcome of the integrity check in the
// background. A file found damaged cannot be salvaged under the agent
// that uses it: it is shown as the store fault "damaged" until a restart,
// which salvages it (the store is left marked as not stopped cleanly, so
// that the next start checks it in full); meanwhile no new payment is
// taken and the accepted ones carry on (docs/design.md, "Checking the
// store").
func (a *Agent) storeVerified(err error) {
	switch {
	case err == nil:
		return
	case errors.Is(err, queue.ErrCorrupt):
		a.health.damaged = fmt.Sprintf("the store %s failed its integrity check while posagent ran (%v); posagent refuses new payments and finishes the accepted ones: restart posagent, which salvages the store at start", a.store.Path(), err)
		a.setFault(faultDamaged, a.health.damaged)
	default:
		a.log.Warn().Err(err).Msg("could not check the payment store while running; it is checked at the next start")
	}
}
