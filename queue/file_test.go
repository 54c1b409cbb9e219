package queue

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestPlaceFollowsThePath(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	mustAccept(t, s, newPayment(c, "pos-1"))
	other := filepath.Join(filepath.Dir(s.Path()), "other.db")
	if err := os.WriteFile(other, []byte("not a store"), 0o600); err != nil {
		t.Fatal(err)
	}
	kept := s.Path() + ".kept"
	tests := []struct {
		name   string
		change func() error
		want   Place
	}{
		{"as opened", func() error { return nil }, InPlace},
		{"hard link removed", func() error { return os.Link(s.Path(), kept) }, InPlace},
		{"removed", func() error { return os.Rename(s.Path(), s.Path()+".moved") }, Removed},
		{"moved back", func() error { return os.Rename(s.Path()+".moved", s.Path()) }, InPlace},
		{"replaced", func() error { return os.Rename(other, s.Path()) }, Replaced},
	}
	for _, tt := range tests {
		if err := tt.change(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got, err := s.Place()
		if err != nil || got != tt.want {
			t.Fatalf("%s: Place = %v, %v; want %v", tt.name, got, err, tt.want)
		}
		// A repeated PAY needs no write: it is answered whatever the file.
		if got, created, err := s.Accept(newPayment(c, "pos-1")); err != nil || created || got.RequestID != "pos-1" {
			t.Fatalf("%s: repeated Accept = %v, %v; want the stored payment", tt.name, created, err)
		}
		_, _, err = s.Accept(newPayment(c, "pos-"+tt.name))
		if detached := errors.Is(err, ErrDetached); detached != (tt.want != InPlace) || (err != nil && !detached) {
			t.Fatalf("%s: Accept = %v; want ErrDetached only when the file is not in place", tt.name, err)
		}
	}
}

func TestRestoreWritesARemovedFileBack(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	var want []Payment
	for _, req := range []string{"pos-1", "pos-2"} {
		want = append(want, mustAccept(t, s, newPayment(c, req)))
	}
	if err := os.Remove(s.Path()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finish("pos-1", Result{Status: Success}, Event{Call: CallInquiry}); !errors.Is(err, ErrDetached) {
		t.Fatalf("Finish into a removed file = %v; want ErrDetached", err)
	}
	if err := s.Restore(); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if place, err := s.Place(); place != InPlace || err != nil {
		t.Fatalf("after Restore, Place = %v, %v", place, err)
	}
	if err := s.Restore(); err != nil {
		t.Fatalf("Restore of a file in place: %v", err)
	}
	done, err := s.Finish("pos-1", Result{Status: Success}, Event{Call: CallInquiry})
	if err != nil {
		t.Fatal(err)
	}
	want[0] = done
	want = append(want, mustAccept(t, s, newPayment(c, "pos-3")))
	mustCheck(t, s)
	if _, err := os.Stat(s.Path() + ".restore"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the copy Restore wrote is left beside the store: %v", err)
	}
	path := s.Path()
	s.Close()
	r, err := Open(path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, w := range want {
		if got, err := r.Get(w.RequestID); err != nil || !reflect.DeepEqual(got, w) {
			t.Fatalf("after Restore and reopen, %s = %+v, %v; want %+v", w.RequestID, got, err, w)
		}
	}
}

func TestRestoreRefusesAReplacedFileAndSaveCopyKeepsThePayments(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	want := mustAccept(t, s, newPayment(c, "pos-1"))
	other := filepath.Join(filepath.Dir(s.Path()), "other.db")
	if err := os.WriteFile(other, []byte("someone's file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, s.Path()); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(); !errors.Is(err, ErrDetached) {
		t.Fatalf("Restore over a replaced file = %v; want ErrDetached", err)
	}
	if b, err := os.ReadFile(s.Path()); err != nil || string(b) != "someone's file" {
		t.Fatalf("the file put in place was changed: %q, %v", b, err)
	}
	kept := s.Path() + ".kept"
	if err := s.SaveCopy(kept); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCopy(kept); err == nil {
		t.Fatal("SaveCopy overwrote a file")
	}
	k, err := Open(kept, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.Get("pos-1"); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("the copy holds %+v, %v; want %+v", got, err, want)
	}
	k.Close()

	// Once the other file is moved away, the store goes back.
	if err := os.Rename(s.Path(), other); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	mustAccept(t, s, newPayment(c, "pos-2"))
}
