package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// writePaged writes n payments into a fresh file at path, accepted a
// second apart in runs of three that share their second (so that the
// request id orders them), with request ids that do not sort in the order
// of acceptance, and returns them oldest first.
func writePaged(t testing.TB, path string, n int) []Payment {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := newClock().Now()
	var all []Payment
	err = s.db.Update(func(tx *bolt.Tx) error {
		for i := range n {
			p := fixturePayment(t0.Add(time.Duration(i/3)*time.Second), i)
			p.RequestID = fmt.Sprintf("pos-%d-%d", i%3, n-i) // later ones sort earlier
			if err := writeRecord(tx, nil, &p); err != nil {
				return err
			}
			all = append(all, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(all, func(a, b Payment) int {
		return bytes.Compare(timeKey(a.AcceptedAt, a.RequestID), timeKey(b.AcceptedAt, b.RequestID))
	})
	return all
}

// pageAll reads every page of f with pages of size, checking each.
func pageAll(t *testing.T, s *Store, f Filter, size int) []string {
	t.Helper()
	var got []string
	f.Limit = size
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("the pages do not end")
		}
		pg, err := s.Page(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(pg.Payments) > min(size, MaxPage) {
			t.Fatalf("a page of %d holds %d payments", size, len(pg.Payments))
		}
		jp, err := s.PageJSON(f)
		if err != nil {
			t.Fatal(err)
		}
		var fromJSON []Payment
		for _, j := range jp.Records {
			var p Payment
			if err := json.Unmarshal(j, &p); err != nil {
				t.Fatalf("PageJSON gave %s: %v", j, err)
			}
			fromJSON = append(fromJSON, p)
		}
		if !reflect.DeepEqual(fromJSON, pg.Payments) || jp.Next != pg.Next {
			t.Fatalf("PageJSON gave %v, next %v; Page %v, next %v", reqs(fromJSON), jp.Next, reqs(pg.Payments), pg.Next)
		}
		got = append(got, reqs(pg.Payments)...)
		if pg.Next.IsZero() {
			return got
		}
		f.After = pg.Next
	}
}

func TestPagesListEveryPaymentOnceInOrder(t *testing.T) {
	const n = 1100 // more than two pages of MaxPage
	dir := t.TempDir()
	all := writePaged(t, filepath.Join(dir, "q.db"), n)
	since := all[n/2].AcceptedAt
	filters := []struct {
		name string
		f    Filter
		keep func(p *Payment) bool
	}{
		{"all", Filter{}, func(*Payment) bool { return true }},
		{"since", Filter{Since: since}, func(p *Payment) bool { return !p.AcceptedAt.Before(since) }},
		{"success", Filter{States: []State{Success}}, func(p *Payment) bool { return p.State == Success }},
		{"follow-up since", Filter{FollowUp: true, Since: since}, func(p *Payment) bool { return p.FollowUp != "" && !p.AcceptedAt.Before(since) }},
	}
	for _, schema := range []int{schemaVersion, framedSchema} {
		path := filepath.Join(dir, "q.db")
		if schema == framedSchema { // as a file from before the accepted index
			path = filepath.Join(dir, "old.db")
			writePaged(t, path, n)
			stampSchema2(t, path)
		}
		s, err := Open(path, Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range filters {
			var oldest []string
			for i := range all {
				if tt.keep(&all[i]) {
					oldest = append(oldest, all[i].RequestID)
				}
			}
			newest := slices.Clone(oldest)
			slices.Reverse(newest)
			for _, size := range []int{1, 7, MaxPage, 0} {
				for _, old := range []bool{false, true} {
					f := tt.f
					f.Oldest = old
					want := newest
					if old {
						want = oldest
					}
					name := fmt.Sprintf("schema %d, %s, pages of %d, oldest first %v", schema, tt.name, size, old)
					if size == 0 {
						var got []string
						err := s.Each(f, func(p *Payment) error { got = append(got, p.RequestID); return nil })
						if err != nil || !slices.Equal(got, want) {
							t.Fatalf("%s: Each gave %d payments, %v; want %d", name, len(got), err, len(want))
						}
						continue
					}
					if size == 1 && len(want) > 200 || size < MaxPage && schema < acceptedSchema {
						continue // slow (every page of an old file reads it all), and says nothing more
					}
					if got := pageAll(t, s, f, size); !slices.Equal(got, want) {
						t.Fatalf("%s: got %d payments, want %d; first %v, want %v", name, len(got), len(want), got[:min(5, len(got))], want[:min(5, len(want))])
					}
				}
			}
		}
		// A limit across pages; an After that names no stored payment.
		if got, _ := s.List(Filter{Limit: MaxPage + 3}); len(got) != MaxPage+3 || got[0].RequestID != all[n-1].RequestID {
			t.Fatalf("schema %d: List with limit %d = %d payments", schema, MaxPage+3, len(got))
		}
		mid := PositionOf(&all[n/2])
		mid.RequestID += "x" // just after all[n/2], before all[n/2+1]
		got, err := s.List(Filter{After: mid, Limit: 2})
		if err != nil || !slices.Equal(reqs(got), []string{all[n/2].RequestID, all[n/2-1].RequestID}) {
			t.Fatalf("schema %d: List after %v = %v, %v", schema, mid, reqs(got), err)
		}
		got, err = s.List(Filter{After: mid, Limit: 2, Oldest: true})
		if err != nil || !slices.Equal(reqs(got), []string{all[n/2+1].RequestID, all[n/2+2].RequestID}) {
			t.Fatalf("schema %d: List oldest first after %v = %v, %v", schema, mid, reqs(got), err)
		}
		s.Close()
	}
}

// stampSchema2 makes the file at path look like one of schema 2: no
// accepted index, stamp 2.
func stampSchema2(t testing.TB, path string) {
	t.Helper()
	db, _, err := openBolt(path, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketAccepted); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, []byte("2"))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSchema2FileGetsTheAcceptedIndexAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	want := writeFixture(t, path, 700)
	stampSchema2(t, path)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Report() != nil {
		t.Fatalf("a schema-2 file was salvaged: %s", s.Report())
	}
	mustCheck(t, s)
	s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keySchema); string(v) != strconv.Itoa(schemaVersion) {
			t.Errorf("schema stamp %q after migration; want %d", v, schemaVersion)
		}
		if n := tx.Bucket(bucketAccepted).Stats().KeyN; n != len(want) {
			t.Errorf("the accepted index has %d keys; want %d", n, len(want))
		}
		return nil
	})
	got, err := s.List(Filter{})
	if err != nil || len(got) != len(want) {
		t.Fatalf("List after migration = %d payments, %v; want %d", len(got), err, len(want))
	}
}

func TestReadOnlyOpenRefusesAnAcceptedIndexThatDisagrees(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(idx *bolt.Bucket) error
	}{
		{"a key missing", func(idx *bolt.Bucket) error { k, _ := idx.Cursor().First(); return idx.Delete(k) }},
		{"a key too many", func(idx *bolt.Bucket) error { return idx.Put(timeKey(time.Now(), "pos-none"), nil) }},
		{"a key naming another payment", func(idx *bolt.Bucket) error {
			k, _ := idx.Cursor().Last()
			at, _, _ := splitTimeKey(k)
			if err := idx.Delete(k); err != nil {
				return err
			}
			return idx.Put(timeKey(at, "pos-none"), nil)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "q.db")
			writeFixture(t, path, 50)
			db, _, err := openBolt(path, false, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error { return tt.change(tx.Bucket(bucketAccepted)) }); err != nil {
				t.Fatal(err)
			}
			db.Close()
			_, err = Open(path, Options{ReadOnly: true})
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("read-only Open = %v; want ErrCorrupt", err)
			}
		})
	}
}
