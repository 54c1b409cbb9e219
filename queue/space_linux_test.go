package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/posagent/posagent/internal/postest"
)

func TestReserveKeepsRoomForCommitsOnAFullDisk(t *testing.T) {
	dir := postest.Tmpfs(t, "1m")
	path := filepath.Join(dir, "posagent.db")
	c := newClock()
	s, err := Open(path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const headroom = 160 << 10
	var reqs []string
	for i := range 4 {
		if err := s.Reserve(headroom); err != nil {
			t.Fatalf("Reserve on an empty file system: %v", err)
		}
		req := fmt.Sprintf("pos-%d", i)
		mustAccept(t, s, newPayment(c, req))
		reqs = append(reqs, req)
	}
	sp, err := s.Space()
	if err != nil || sp.Free == 0 || sp.ReadOnly {
		t.Fatalf("Space before the filler = %+v, %v", sp, err)
	}
	filler := filepath.Join(dir, "filler")
	postest.FillDisk(t, filler)
	if sp, err := s.Space(); err != nil || sp.Free != 0 {
		t.Fatalf("Space on a full disk = %+v, %v; want nothing free", sp, err)
	}
	if err := s.Reserve(2 * headroom); !errors.Is(err, ErrNoRoom) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Reserve more on a full disk = %v; want ErrNoRoom and ENOSPC", err)
	}

	// Every accepted payment can still be driven to its end, with a full
	// audit trail, in the room reserved.
	for _, req := range reqs {
		for range 70 {
			if err := s.Record(req, Event{Call: CallInquiry, ResultStatus: "U", Error: "an answer that takes room to record"}, c.Now()); err != nil {
				t.Fatalf("Record %s on a full disk: %v", req, err)
			}
		}
		if _, err := s.Finish(req, Result{Status: Success}, Event{Call: CallInquiry, ResultStatus: "S"}); err != nil {
			t.Fatalf("Finish %s on a full disk: %v", req, err)
		}
		if err := s.Deliver(req, c.Now()); err != nil {
			t.Fatalf("Deliver %s on a full disk: %v", req, err)
		}
	}
	mustCheck(t, s)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve(2 * headroom); err != nil {
		t.Fatalf("Reserve once space is back: %v", err)
	}
}
