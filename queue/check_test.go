package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// checkers are the ways a store in use is checked in full: Check, which
// decodes on every core, and Verify, on one, reading the file in place or
// (where bbolt's map has no room to spare) a copy of it.
var checkers = []struct {
	name  string
	check func(t *testing.T, s *Store) error
}{
	{"Check", func(t *testing.T, s *Store) error { return s.Check() }},
	{"Verify", func(t *testing.T, s *Store) error { return s.Verify(t.Context()) }},
	{"Verify a copy", func(t *testing.T, s *Store) error {
		s.mapped = 0
		if inPlaceNow(t, s) {
			t.Skip("bbolt's map is known to have room here")
		}
		return s.Verify(t.Context())
	}},
}

// inPlaceNow reports whether Verify would check s in place now.
func inPlaceNow(t *testing.T, s *Store) bool {
	tx, err := s.db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	return s.inPlace(tx)
}

// TestCheckNamesTheIndexThatDisagrees plants, in each index in turn, a
// key no record calls for, removes one a record calls for, or swaps one
// for another: every check fails and names the index and its counts.
func TestCheckNamesTheIndexThatDisagrees(t *testing.T) {
	const n = 60
	// Of the fixture (fixturePayment): 20 pending, 20 final and not
	// delivered, 20 delivered, 9 flagged.
	counts := map[string]int{"due": 20, "outbox": 20, "delivered": 20, "accepted": n, "followup": 9}
	stray := []byte("\x00\x00\x00\x00\x00\x00\x00\x01pos-999999")
	for _, c := range checkers {
		for _, name := range indexBuckets {
			for _, tc := range []struct {
				plant string
				want  string // the problem, %d the index's count
			}{
				{"extra", "holds %d keys and the records call for %d"},
				{"missing", "holds %d keys and the records call for %d"},
				{"swapped", "holds %d keys, as many as the records call for, but not the same ones"},
			} {
				t.Run(fmt.Sprintf("%s/%s/%s", c.name, name, tc.plant), func(t *testing.T) {
					path := filepath.Join(t.TempDir(), "s.db")
					writeFixture(t, path, n)
					s, err := Open(path, Options{})
					if err != nil {
						t.Fatal(err)
					}
					defer s.Close()
					err = s.db.Update(func(tx *bolt.Tx) error {
						b := tx.Bucket(name)
						first, _ := b.Cursor().First()
						if tc.plant != "extra" {
							if err := b.Delete(first); err != nil {
								return err
							}
						}
						if tc.plant != "missing" {
							return b.Put(stray, nil)
						}
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					err = c.check(t, s)
					var ce *CheckError
					if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
						t.Fatalf("check = %v; want a *CheckError", err)
					}
					held := counts[string(name)] + map[string]int{"extra": 1, "missing": -1}[tc.plant]
					want := fmt.Sprintf("index %q "+tc.want, name, held, counts[string(name)])
					if strings.Count(tc.want, "%d") == 1 {
						want = fmt.Sprintf("index %q "+tc.want, name, held)
					}
					if len(ce.Problems) != 1 || ce.Problems[0] != want {
						t.Errorf("problems %q; want [%q]", ce.Problems, want)
					}
				})
			}
		}
	}
}

// TestCheckListsDamagedRecordsInKeyOrder frames records whose JSON does
// not parse, or lacks a field an index needs, under a good checksum:
// every check lists the first of them in key order, whatever the number
// of workers, and counts the rest.
func TestCheckListsDamagedRecordsInKeyOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	writeFixture(t, path, 3000)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Spread over many batches of the workers, from the last down.
	var damaged []string
	for i := 2999; i >= 0; i -= 250 {
		damaged = append([]string{fmt.Sprintf("pos-%06d", i)}, damaged...)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPayments)
		for i, req := range damaged {
			j := fmt.Sprintf(`{"req":%q,"amt":1,"state":"SUCCESS","audit":[{"time":`, req) // cut short
			if i%2 == 1 {
				j = fmt.Sprintf(`{"req":%q,"state":"SUCCESS","finishedAt":"yesterday"}`, req)
			}
			if err := b.Put([]byte(req), frame([]byte(j))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, unmap, err := mapFile(f)
	if err != nil {
		t.Fatal(err)
	}
	defer unmap()
	var first []string
	for workers := range 4 {
		_, err := checkData(context.Background(), data, path, false, workers+1, 0)
		var ce *CheckError
		if !errors.As(err, &ce) {
			t.Fatalf("%d workers: %v; want a *CheckError", workers+1, err)
		}
		if first == nil {
			first = ce.Problems
		} else if !reflect.DeepEqual(ce.Problems, first) {
			t.Errorf("%d workers: problems %q; one worker found %q", workers+1, ce.Problems, first)
		}
	}
	if len(first) != maxProblems+1 {
		t.Fatalf("problems %q; want %d and a count of the rest", first, maxProblems)
	}
	for i, p := range first[:maxProblems] {
		if !strings.HasPrefix(p, fmt.Sprintf("record %q is damaged: it does not decode", damaged[i])) {
			t.Errorf("problem %d = %q; want record %s's", i, p, damaged[i])
		}
	}
	// The rest: the two records beyond the ten, and the indexes, which
	// hold keys for the damaged records that no record calls for.
	if !strings.HasPrefix(first[maxProblems], "and ") {
		t.Errorf("last problem %q; want a count", first[maxProblems])
	}
}

// TestIndexFieldsAreThoseOfPayment: the part of a record the check
// decodes has the names, types and JSON names of Payment's fields, and
// calls for the same index keys as the whole record.
func TestIndexFieldsAreThoseOfPayment(t *testing.T) {
	pt := reflect.TypeFor[Payment]()
	it := reflect.TypeFor[indexFields]()
	for i := range it.NumField() {
		f := it.Field(i)
		pf, ok := pt.FieldByName(f.Name)
		jsonName := func(tag reflect.StructTag) string { return strings.Split(tag.Get("json"), ",")[0] }
		if !ok || pf.Type != f.Type || jsonName(pf.Tag) != jsonName(f.Tag) {
			t.Errorf("indexFields.%s (%s, json %q) is not Payment's", f.Name, f.Type, jsonName(f.Tag))
		}
	}
	now := newClock().Now()
	for i := range 42 {
		p := fixturePayment(now, i)
		v, err := encode(&p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := decodeIndexed(schemaVersion, v)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := indexKeys(&q), indexKeys(&p); !reflect.DeepEqual(got, want) {
			t.Errorf("payment %d: index keys %q from its index fields; want %q", i, got, want)
		}
	}
}

// TestCommitsDoNotWaitForALongReader holds a read transaction, as Verify
// does for its check, while a commit grows the file far beyond the size
// it had at open: the commit completes with the reader still open (a
// commit that mapped the file afresh would wait for the reader, and the
// test would hang).
func TestCommitsDoNotWaitForALongReader(t *testing.T) {
	if mapReserve == 0 {
		t.Skip("bbolt maps the file as it grows on this platform; Verify copies it instead")
	}
	c := newClock()
	s := openTest(t, c)
	if !inPlaceNow(t, s) {
		t.Fatal("Verify would not check this store in place")
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	before := tx.Size()
	done := make(chan error, 1)
	go func() {
		done <- s.db.Update(func(tx *bolt.Tx) error {
			for i := range 2000 {
				p := fixturePayment(c.Now(), i)
				if err := writeRecord(tx, nil, &p); err != nil {
					return err
				}
			}
			return nil
		})
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	fi, err := s.file.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < 16*before {
		t.Fatalf("the file grew from %d to %d bytes only", before, fi.Size())
	}
}

// TestVerifyStopsWhenItsContextEnds: a Verify whose context has ended
// returns the context's error and leaves the store unmarked.
func TestVerifyStopsWhenItsContextEnds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	writeFixture(t, path, 600)
	s, err := Open(path, Options{Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Verify(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify = %v; want context.Canceled", err)
	}
	if s.damaged {
		t.Error("a Verify that was stopped marked the store damaged")
	}
}
