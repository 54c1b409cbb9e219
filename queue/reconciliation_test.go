package queue

import (
	"errors"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestReconciliationKeptAcrossReopen(t *testing.T) {
	s := openTest(t, newClock())
	if _, ok, err := s.LastReconciliation(); ok || err != nil {
		t.Fatalf("a new store: ok %v, err %v; want none", ok, err)
	}
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.FixedZone("UTC+8", 8*3600))
	want := Reconciliation{
		Time: at, Files: []string{"/tmp/a.csv"}, From: at.Add(-33 * time.Hour), To: at.Add(-9 * time.Hour),
		Rows: 12, Matched: 10, Discrepancies: 2, Counts: map[string]int{"paid_not_success": 2, "not_covered": 1},
	}
	if err := s.PutReconciliation(want); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, s)
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	got, ok, err := ro.LastReconciliation()
	if err != nil || !ok {
		t.Fatalf("after reopening: ok %v, err %v", ok, err)
	}
	want.Time, want.From, want.To = want.Time.UTC(), want.From.UTC(), want.To.UTC()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back %+v; want %+v", got, want)
	}
	if err := ro.PutReconciliation(want); !errors.Is(err, ErrReadOnly) {
		t.Errorf("PutReconciliation on a read-only store: %v; want ErrReadOnly", err)
	}
}

func TestDamagedReconciliationFailsTheCheck(t *testing.T) {
	s := openTest(t, newClock())
	if err := s.PutReconciliation(Reconciliation{Rows: 1}); err != nil {
		t.Fatal(err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		v := append([]byte(nil), tx.Bucket(bucketMeta).Get(keyReconciliation)...)
		v[len(v)-2] ^= 0x40
		return tx.Bucket(bucketMeta).Put(keyReconciliation, v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.LastReconciliation(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("LastReconciliation of a damaged record: %v; want ErrCorrupt", err)
	}
	if err := s.Check(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Check with a damaged reconciliation summary: %v; want ErrCorrupt", err)
	}
}
