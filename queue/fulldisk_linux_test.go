//go:build linux

package queue

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/postest"
)

func TestFullDiskFailsWritesAndKeepsRecords(t *testing.T) {
	dir := postest.Tmpfs(t, "512k")
	path := filepath.Join(dir, "posagent.db")
	c := newClock()
	s, err := Open(path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()

	var accepted []Payment
	var fullErr error
	for i := 0; fullErr == nil; i++ {
		if i == 100000 {
			t.Fatal("the 512 KiB file system never filled up")
		}
		p := newPayment(c, fmt.Sprintf("pos-%06d", i))
		p.Lane = fmt.Sprintf("%016d", i)
		got, _, err := s.Accept(p)
		if err != nil {
			fullErr = err
			break
		}
		accepted = append(accepted, got)
	}
	t.Logf("disk full after %d payments: %v", len(accepted), fullErr)
	if !errors.Is(fullErr, syscall.ENOSPC) {
		t.Fatalf("Accept on a full disk = %v; want an error wrapping ENOSPC", fullErr)
	}
	if len(accepted) == 0 {
		t.Fatal("not one payment fitted")
	}

	// A transition that needs more room fails the same way and leaves
	// the record as it was.
	last := accepted[len(accepted)-1]
	big := Result{Status: Success, Message: string(make([]byte, 256<<10))}
	if _, err := s.Finish(last.RequestID, big, Event{Call: CallInquiry}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Finish on a full disk = %v; want an error wrapping ENOSPC", err)
	}

	check := func(s *Store) {
		t.Helper()
		mustCheck(t, s)
		for _, want := range accepted {
			got, err := s.Get(want.RequestID)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("after a full disk %s = %+v, %v\nwant %+v", want.RequestID, got, err, want)
			}
		}
	}
	check(s)
	s.Close()
	s, err = Open(path, Options{Now: c.Now})
	if err != nil {
		t.Fatalf("reopen after a full disk: %v", err)
	}
	if s.Report() != nil {
		t.Fatalf("the file needed salvage after a full disk: %s", s.Report())
	}
	check(s)
}

func TestReadOnlyFileSystemRefusesOpenForWritingAndAllowsReading(t *testing.T) {
	dir := postest.Tmpfs(t, "1m")
	path := filepath.Join(dir, "posagent.db")
	c := newClock()
	s, err := Open(path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	want := mustAccept(t, s, newPayment(c, "pos-1"))
	s.Close()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot remount read-only: %v", err)
	}

	if _, err := Open(path, Options{LockTimeout: time.Second}); !errors.Is(err, syscall.EROFS) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open for writing on a read-only file system = %v; want EROFS, not corruption", err)
	}
	r, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := r.Get("pos-1"); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("read-only Get = %+v, %v", got, err)
	}
}
