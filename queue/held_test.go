package queue

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func processing(c *clock) Step {
	return Step{Event: Event{Call: CallInquiry, ResultStatus: "S", PaymentStatus: "PROCESSING"}, Next: c.Now().Add(3 * time.Second)}
}

// copyFile copies the store file as a crash leaves it: every commit is in
// it, nothing that was only held.
func copyFile(t *testing.T, from string) string {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "crashed.db")
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return to
}

func TestHoldIsSeenByGetAndCommittedWithTheNextChange(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	mustAccept(t, s, newPayment(c, "r1"))
	for i := range 3 {
		c.Advance(time.Second)
		st := processing(c)
		if i == 0 {
			st.Track = &Track{Known: true}
		}
		if _, err := s.Hold("r1", st); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Get("r1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Inquiries != 3 || len(got.Audit) != 4 || !got.Track.Known || !got.NextAt.Equal(c.Now().Add(3*time.Second)) {
		t.Fatalf("Get after three holds = %d inquiries, %d events, track %+v, next %v", got.Inquiries, len(got.Audit), got.Track, got.NextAt)
	}
	// Nothing is committed yet: a crash loses the held steps.
	crashed, err := Open(copyFile(t, s.Path()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := crashed.Get("r1"); p.Inquiries != 0 || p.Track.Known || p.Revision != 1 {
		t.Fatalf("after a crash the store holds %d inquiries, track %+v, revision %d; want the accepted payment only", p.Inquiries, p.Track, p.Revision)
	}
	crashed.Close()

	// The final step commits what was held, in order, before itself.
	done, err := s.Finish("r1", Result{Status: Success, PaymentID: "pid"}, Event{Call: CallInquiry, ResultStatus: "S", PaymentStatus: "SUCCESS"})
	if err != nil {
		t.Fatal(err)
	}
	if done.Inquiries != 4 || len(done.Audit) != 5 || !done.Track.Known || done.Revision != 2 {
		t.Fatalf("final = %d inquiries, %d events, track %+v, revision %d", done.Inquiries, len(done.Audit), done.Track, done.Revision)
	}
	if n := s.Holding(); n != 0 {
		t.Fatalf("%d payments still held after the commit", n)
	}
	mustCheck(t, s)
}

func TestHoldRefusesWhatMustBeCommitted(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	mustAccept(t, s, newPayment(c, "r1"))
	for name, st := range map[string]Step{
		"result":    {Result: &Result{Status: Success}},
		"cancel":    {Cancel: "TIMEOUT"},
		"follow-up": {FollowUp: "look at it"},
	} {
		if _, err := s.Hold("r1", st); !errors.Is(err, ErrInvalid) {
			t.Errorf("Hold with a %s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.Finish("r1", Result{Status: Fail}, Event{Call: CallInquiry}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Hold("r1", processing(c)); !errors.Is(err, ErrFinal) {
		t.Errorf("Hold on a final payment: %v, want ErrFinal", err)
	}
}

func TestHeldAuditIsBoundedAndCounted(t *testing.T) {
	c := newClock()
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{Now: c.Now, AuditLimit: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustAccept(t, s, newPayment(c, "r1"))
	for range 10 {
		c.Advance(time.Second)
		st := processing(c)
		st.Event.Error = "timeout"
		if _, err := s.Hold("r1", st); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush("r1"); err != nil {
		t.Fatal(err)
	}
	s.hmu.Lock()
	left := len(s.held)
	s.hmu.Unlock()
	p, err := s.Get("r1")
	if err != nil {
		t.Fatal(err)
	}
	if left != 0 || p.Inquiries != 10 || len(p.Audit) != 4 || p.AuditDropped != 7 || p.LastError != "timeout" {
		t.Fatalf("after Flush: %d held, %d inquiries, %d events, %d dropped, last error %q", left, p.Inquiries, len(p.Audit), p.AuditDropped, p.LastError)
	}
	mustCheck(t, s)
}

func TestCloseCommitsHeldStepsAndMarksACleanStop(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, Options{Now: c.Now, Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	mustAccept(t, s, newPayment(c, "r1"))
	if _, err := s.Hold("r1", processing(c)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	marks, err := quickLook(path)
	if err != nil || !marks.stopped {
		t.Fatalf("quick look after Close = %+v, %v; want a clean stop", marks, err)
	}
	s, err = Open(path, Options{Now: c.Now, Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Checked() {
		t.Error("a store stopped cleanly was checked in full at Open")
	}
	if p, _ := s.Get("r1"); p.Inquiries != 1 {
		t.Errorf("after Close and Open the payment has %d inquiries, want the held one", p.Inquiries)
	}
}

// TestQuickOpenChecksInFullAfterACrashBeforeACheck follows the marks of
// startup.go through runs that stop cleanly, crash after a full check and
// crash before one: only the last is checked in full at the next Open.
func TestQuickOpenChecksInFullAfterACrashBeforeACheck(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	open := func(wantChecked bool) *Store {
		t.Helper()
		s, err := Open(path, Options{Now: c.Now, Quick: true})
		if err != nil {
			t.Fatal(err)
		}
		if s.Checked() != wantChecked {
			t.Fatalf("Open checked in full: %v, want %v", s.Checked(), wantChecked)
		}
		return s
	}
	// crash leaves the file as the store's commits left it.
	crash := func(s *Store) {
		t.Helper()
		image, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if err := os.WriteFile(path, image, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := open(true) // a new file
	mustAccept(t, s, newPayment(c, "r1"))
	crash(s)
	s = open(false) // the last run's file was new: checked
	if err := s.Verify(t.Context()); err != nil {
		t.Fatal(err)
	}
	crash(s)
	s = open(false) // crashed after its check passed
	crash(s)
	s = open(true) // crashed before a check: checked in full
	s.Close()
	s = open(false) // stopped cleanly
	s.Close()
}

// TestVerifyFindsDamageAndTheNextOpenSalvages damages a record under a
// running store: Verify reports it, Close leaves the store unmarked, and
// the next quick Open checks it in full and salvages it.
func TestVerifyFindsDamageAndTheNextOpenSalvages(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, Options{Now: c.Now, Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []string{"r1", "r2", "r3"} {
		mustAccept(t, s, newPayment(c, req))
	}
	if err := s.Verify(t.Context()); err != nil {
		t.Fatalf("Verify of a sound store: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Every copy of the record, in its leaf and in pages freed since.
	found := 0
	for at := bytes.Index(data, []byte(`{"req":"r2"`)); at >= 0; {
		found++
		if _, err := f.WriteAt([]byte{data[at+20] ^ 0x01}, int64(at+20)); err != nil {
			t.Fatal(err)
		}
		next := bytes.Index(data[at+1:], []byte(`{"req":"r2"`))
		if next < 0 {
			break
		}
		at += 1 + next
	}
	f.Close()
	if found == 0 {
		t.Fatal("record r2 not found in the file")
	}
	if err := s.Verify(t.Context()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Verify of a damaged store: %v, want ErrCorrupt", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{Now: c.Now, Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Report() == nil {
		t.Fatal("the damaged store was not salvaged at the next Open")
	}
}

// TestVerifyWhileCommitting runs Verify while another goroutine commits
// without pause: the check of a sound store passes, whatever the commits
// write meanwhile.
func TestVerifyWhileCommitting(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			p := newPayment(c, "w-"+time.Duration(i).String())
			if _, _, err := s.Accept(p); err != nil {
				done <- err
				return
			}
		}
	}()
	for range 5 {
		if err := s.Verify(t.Context()); err != nil {
			close(stop)
			<-done
			t.Fatalf("Verify while committing: %v", err)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestHoldWhileOthersGet: the loop holds steps while the status endpoint
// reads the same payment with Get; under -race this finds a held value
// changed while another goroutine reads it.
func TestHoldWhileOthersGet(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	mustAccept(t, s, newPayment(c, "r1"))
	steps := make([]Step, 200)
	for i := range steps {
		steps[i] = processing(c)
	}
	done := make(chan error, 1)
	go func() {
		for _, st := range steps {
			if _, err := s.Hold("r1", st); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for {
		if _, err := s.Get("r1"); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.Get("r1")
			if err != nil || p.Inquiries != len(steps) {
				t.Fatalf("Get after %d holds = %d inquiries, %v", len(steps), p.Inquiries, err)
			}
			return
		default:
		}
	}
}

func TestInterruptedTellsACrashFromACleanStop(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "posagent.db")
	reopen := func(opts Options) *Store {
		t.Helper()
		opts.Now = c.Now
		s, err := Open(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := reopen(Options{Quick: true})
	if s.Interrupted() {
		t.Error("a new file reads as interrupted")
	}
	mustAccept(t, s, newPayment(c, "r1"))
	crashed := copyFile(t, path) // as a crash now would leave it
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, quick := range []bool{true, false} {
		s = reopen(Options{Quick: quick})
		if s.Interrupted() {
			t.Errorf("Quick %v: a file closed cleanly reads as interrupted", quick)
		}
		s.Close()
	}
	if err := os.Rename(crashed, path); err != nil {
		t.Fatal(err)
	}
	for _, quick := range []bool{true, false} {
		if err := os.WriteFile(crashed, mustRead(t, path), 0o600); err != nil {
			t.Fatal(err)
		}
		s = reopen(Options{Quick: quick})
		if !s.Interrupted() {
			t.Errorf("Quick %v: a file a run left open does not read as interrupted", quick)
		}
		s.Close()
		// The clean Close just now marked the file stopped: put the
		// crashed copy back for the next round.
		if err := os.Rename(crashed, path); err != nil {
			t.Fatal(err)
		}
	}
	if ro, err := Open(path, Options{ReadOnly: true}); err != nil {
		t.Fatal(err)
	} else {
		if ro.Interrupted() {
			t.Error("a read-only store reads as interrupted")
		}
		ro.Close()
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
