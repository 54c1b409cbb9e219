package queue

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// writeSchema1 writes the payments of a fixture of n into a file of schema
// 1, whose records are plain JSON, and returns them.
func writeSchema1(t *testing.T, path string, n int) map[string]Payment {
	t.Helper()
	want := writeFixture(t, path, n)
	db, _, err := openBolt(path, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		for id, p := range want {
			j, err := json.Marshal(p)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketPayments).Put([]byte(id), j); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, []byte("1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	return want
}

func TestSchema1FileIsMigratedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posagent.db")
	want := writeSchema1(t, path, 300)

	// Read-only, as doctor and queue list do: readable, left as it is
	// (only the agent migrates).
	r, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only Open of a schema-1 file = %v", err)
	}
	if got, err := r.List(Filter{}); err != nil || len(got) != len(want) {
		t.Fatalf("read-only List of a schema-1 file = %d payments, %v; want %d", len(got), err, len(want))
	}
	if p, err := r.Get("pos-000007"); err != nil || !reflect.DeepEqual(p, want["pos-000007"]) {
		t.Fatalf("read-only Get of a schema-1 file = %+v, %v", p, err)
	}
	r.Close()

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of a schema-1 file = %v", err)
	}
	defer s.Close()
	if s.Report() != nil {
		t.Fatalf("a schema-1 file was salvaged: %s", s.Report())
	}
	mustCheck(t, s)
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keySchema); string(v) != "3" {
			t.Errorf("schema stamp %q after migration; want 3", v)
		}
		return tx.Bucket(bucketPayments).ForEach(func(k, v []byte) error {
			if _, err := unframe(v); err != nil {
				t.Errorf("record %s not framed after migration: %v", k, err)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, w := range want {
		p, err := s.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p, w) {
			t.Fatalf("migrated %s = %+v\nwant %+v", id, p, w)
		}
	}
}

func TestDamagedSchema1FileIsSalvaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posagent.db")
	want := writeSchema1(t, path, 200)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The schema-1 record follows its key; the file also holds stale
	// schema-2 copies on free pages.
	at := bytes.Index(data, []byte(`pos-000042{"req":"pos-000042"`))
	if at < 0 {
		t.Fatal("the schema-1 record of pos-000042 is not in the file")
	}
	copy(data[at+40:], "\x00\xff garbage \x00")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Report() == nil {
		t.Fatal("a damaged schema-1 file was not salvaged")
	}
	got, err := s.List(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want)-1 {
		t.Fatalf("salvaged %d of %d payments; want all but the damaged one", len(got), len(want))
	}
}
