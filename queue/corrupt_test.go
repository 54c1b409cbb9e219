package queue

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// writeFixture writes n payments in various states into a fresh file in
// one transaction, so each record is on disk exactly once, and returns
// them by request id.
func writeFixture(t testing.TB, path string, n int) map[string]Payment {
	t.Helper()
	c := newClock()
	s, err := Open(path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string]Payment{}
	err = s.db.Update(func(tx *bolt.Tx) error {
		for i := range n {
			p := fixturePayment(c.Now(), i)
			if err := writeRecord(tx, nil, &p); err != nil {
				return err
			}
			want[p.RequestID] = p
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// fixturePayment is payment number i: a third pending, a third final and
// undelivered, a third delivered, every seventh flagged.
func fixturePayment(now time.Time, i int) Payment {
	p := Payment{
		RequestID: fmt.Sprintf("pos-%06d", i), Amount: int64(100 + i), Currency: "USD", Lane: "2",
		AcceptedAt: now, Deadline: now.Add(time.Minute), NextAt: now.Add(time.Duration(i) * time.Millisecond), State: Pending,
		Audit: []Event{{Time: now, Call: CallAccept}, {Time: now, Call: CallInquiry, ResultStatus: "S", PaymentStatus: "PROCESSING"}},
	}
	if i%3 > 0 {
		p.State, p.NextAt, p.FinishedAt = Success, time.Time{}, now.Add(time.Duration(i)*time.Millisecond)
		p.PaymentID = "pid-" + p.RequestID
		p.Result = Result{Status: Success, PaymentID: p.PaymentID, Code: "SUCCESS", Message: "paid", Time: "2026-11-30T20:00:00+08:00"}
	}
	if i%3 == 2 {
		p.DeliveredAt = p.FinishedAt.Add(time.Second)
	}
	if i%7 == 0 {
		p.FollowUp = "check by hand"
	}
	return p
}

// corruption damages the file data in place and returns the request ids
// whose only copy it destroyed (nil: none known).
type corruption func(t *testing.T, data []byte) (rest []byte, destroyed []string)

var reqPattern = regexp.MustCompile(`\{"req":"(pos-\d{6})"`)

// garbleRecord breaks the JSON of one record.
func garbleRecord(t *testing.T, data []byte) ([]byte, []string) {
	at := bytes.Index(data, []byte(`{"req":"pos-000042"`))
	if at < 0 {
		t.Fatal("record pos-000042 not found in the file")
	}
	copy(data[at+30:], "\x00\xff garbage \x00")
	return data, []string{"pos-000042"}
}

// smashLeaf overwrites the whole page holding record pos-000150.
func smashLeaf(t *testing.T, data []byte) ([]byte, []string) {
	at := bytes.Index(data, []byte(`{"req":"pos-000150"`))
	if at < 0 {
		t.Fatal("record pos-000150 not found in the file")
	}
	ps := pageSize(data)
	start := at / ps * ps
	var ids []string
	for _, m := range reqPattern.FindAllSubmatch(data[start:start+ps], -1) {
		ids = append(ids, string(m[1]))
	}
	for i := start; i < start+ps; i++ {
		data[i] = 0xAA
	}
	return data, ids
}

// smashMeta overwrites both meta pages, so bbolt cannot open the file.
func smashMeta(t *testing.T, data []byte) ([]byte, []string) {
	for i := range 2 * pageSize(data) {
		data[i] = byte(i)
	}
	return data, nil
}

// cutToOnePage leaves the first meta page only.
func cutToOnePage(t *testing.T, data []byte) ([]byte, []string) {
	return data[:pageSize(data)], nil
}

// truncate cuts the file to 60% of the pages in use. (bbolt grows a file
// ahead of its use, so a cut of the file's size alone may take nothing.)
func truncate(t *testing.T, data []byte) ([]byte, []string) {
	m0, _ := readMeta(data, 0)
	m1, _ := readMeta(data, pageSize(data))
	used := int(max(m0.high, m1.high))
	return data[:used*6/10*pageSize(data)], nil
}

func TestCorruptFileIsMovedAsideAndSalvaged(t *testing.T) {
	tests := []struct {
		name     string
		damage   corruption
		pageScan bool
		allSaved bool // every payment not destroyed must be saved
		noneLeft bool // nothing can be saved
	}{
		{"record garbled", garbleRecord, false, true, false},
		{"leaf page overwritten", smashLeaf, true, true, false},
		{"meta pages overwritten", smashMeta, true, true, false},
		{"file truncated", truncate, true, false, false},
		{"file cut to its first page", cutToOnePage, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "posagent.db")
			want := writeFixture(t, path, 400)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data, destroyed := tt.damage(t, data)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}

			c := newClock()
			s, err := Open(path, Options{Now: c.Now})
			if err != nil {
				t.Fatalf("Open of a damaged file = %v; want a salvaged store", err)
			}
			defer s.Close()
			rep := s.Report()
			if rep == nil {
				t.Fatal("Open found nothing wrong with a damaged file")
			}
			t.Log(rep)
			if wantMoved := path + ".corrupt-20261130T120000Z"; rep.MovedTo != wantMoved {
				t.Fatalf("moved to %q; want %q", rep.MovedTo, wantMoved)
			}
			// As it was, but for the zeros the report owns up to (Windows
			// only, see Store.salvage).
			moved, err := os.ReadFile(rep.MovedTo)
			if err != nil {
				t.Fatal(err)
			}
			tail := moved[min(len(data), len(moved)):]
			if !bytes.HasPrefix(moved, data) || int64(len(tail)) != rep.Appended || bytes.ContainsFunc(tail, func(r rune) bool { return r != 0 }) {
				t.Fatalf("the damaged file was not kept as it was: %d bytes moved, %d found, report says %d appended", len(moved), len(data), rep.Appended)
			}
			// Whatever bbolt did with the damaged file, it is not left locked.
			if db, _, err := openBolt(rep.MovedTo, false, 500*time.Millisecond); errors.Is(err, ErrLocked) {
				t.Fatalf("the damaged file is still locked: %v", err)
			} else if err == nil {
				db.Close()
			}
			if rep.PageScan != tt.pageScan {
				t.Fatalf("PageScan = %v; want %v", rep.PageScan, tt.pageScan)
			}
			mustCheck(t, s)

			// Every saved payment is as it was; the report lists exactly
			// what is in the fresh file.
			stored, err := s.List(Filter{})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, p := range stored {
				ids = append(ids, p.RequestID)
				w, ok := want[p.RequestID]
				if !ok {
					t.Fatalf("salvage made up payment %s", p.RequestID)
				}
				w.Revision = p.Revision
				if !w.State.Final() {
					// Brought back unfinished: flagged, to be verified.
					w.Recovered = true
					w.FollowUp = joinNote(w.FollowUp, RecoveredReason)
					w.Audit = append(w.Audit, Event{Time: c.Now(), Call: CallFlag, Note: RecoveredReason})
					if !slices.Contains(rep.Recovered, p.RequestID) {
						t.Fatalf("unfinished %s is not listed as recovered", p.RequestID)
					}
				}
				if !reflect.DeepEqual(p, w) {
					t.Fatalf("salvaged %s = %+v\nwant %+v", p.RequestID, p, w)
				}
			}
			slices.Sort(ids)
			if !slices.Equal(ids, rep.Salvaged) {
				t.Fatalf("report lists %d salvaged, the file holds %d", len(rep.Salvaged), len(ids))
			}
			lost := map[string]bool{}
			for _, l := range rep.Lost {
				lost[l.RequestID] = true
				if slices.Contains(ids, l.RequestID) {
					t.Fatalf("%s reported both saved and lost", l.RequestID)
				}
			}
			for _, id := range destroyed {
				if slices.Contains(ids, id) {
					t.Fatalf("%s was destroyed but is reported saved", id)
				}
				if !lost[id] {
					t.Fatalf("%s was destroyed but the report does not name it as lost: %s", id, rep)
				}
			}
			if tt.allSaved && len(ids)+len(destroyed) != len(want) {
				t.Fatalf("saved %d and destroyed %d of %d payments", len(ids), len(destroyed), len(want))
			}
			if !tt.allSaved && !tt.noneLeft && len(ids) == 0 {
				t.Fatal("nothing was saved")
			}
			if !strings.Contains(rep.String(), rep.MovedTo) {
				t.Fatalf("report text does not say where the file went: %s", rep)
			}

			// The fresh file works and opens cleanly next time.
			if _, _, err := s.Accept(newPayment(c, "pos-new")); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s2, err := Open(path, Options{Now: c.Now})
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			if s2.Report() != nil {
				t.Fatalf("the salvaged file needed salvage again: %s", s2.Report())
			}
		})
	}
}

func TestReadOnlyOpenReportsCorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posagent.db")
	damage(t, path, 50)
	_, err := Open(path, Options{ReadOnly: true})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "pos-000042") {
		t.Fatalf("read-only Open of a damaged file = %v; want ErrCorrupt naming the record", err)
	}
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 0 {
		t.Fatalf("read-only Open moved the file: %v", m)
	}
}

// damage writes a fixture of n payments to path and garbles one record.
func damage(t *testing.T, path string, n int) []byte {
	t.Helper()
	writeFixture(t, path, n)
	data, _ := os.ReadFile(path)
	data, _ = garbleRecord(t, data)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return data
}

func TestFailedSalvageLeavesDamagedFileInPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posagent.db")
	data := damage(t, path, 100)
	// Something the salvage cannot replace stands where it writes.
	if err := os.MkdirAll(filepath.Join(salvageName(path), "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "could not be written") {
		t.Fatalf("Open with the salvage blocked = %v; want an error", err)
	}
	if now, err := os.ReadFile(path); err != nil || !bytes.Equal(now, data) {
		t.Fatalf("the damaged file was not left in place: %v", err)
	}
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 0 {
		t.Fatalf("the damaged file was moved although nothing was saved: %v", m)
	}

	os.RemoveAll(salvageName(path))
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r := s.Report(); r == nil || len(r.Salvaged) != 99 {
		t.Fatalf("second salvage report = %v", r)
	}
}

func TestSalvageCutShortIsCompletedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posagent.db")
	want := writeFixture(t, path, 20)
	// As if the process died after moving the damaged file aside and
	// before moving the salvaged file into place.
	if err := os.Rename(path, salvageName(path)); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, _ := s.List(Filter{}); len(got) != len(want) {
		t.Fatalf("store holds %d payments; want the %d salvaged", len(got), len(want))
	}
	if _, err := os.Lstat(salvageName(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("salvage file still there: %v", err)
	}
}

// Text that looks like the start of a record but is framed by a length
// shorter than that text (as in the salvage history, which names payments
// the same way, or in any damaged bytes) is no record, and the scan goes on.
func TestScanSkipsRecordStartsFramedTooShort(t *testing.T) {
	p := Payment{RequestID: "pos-1", Amount: 1, Currency: "USD", State: Pending, Revision: 1}
	whole, err := encode(&p)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(recordStart) {
		short := []byte{recordFormat, 0, 0, 0, byte(n), 0, 0, 0, 0}
		data := append(append(short, `{"req":"pos-2"}`...), whole...)
		found := scanRecords(data, nil)
		if got, ok := found["pos-1"]; !ok || got.Revision != 1 || len(found) != 1 {
			t.Errorf("length %d before a record start: found %v, want pos-1 alone", n, found)
		}
	}
}
