package queue

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzDecodeRecord checks the record decoder on any bytes, framed as they
// come (so mostly refused by the frame or checksum) or framed afresh (so
// the JSON inside is what is fuzzed): it never panics, every refusal wraps
// ErrCorrupt, and a record it accepts names a request id and a known state
// and encodes to a record that decodes to the same encoding.
func FuzzDecodeRecord(f *testing.F) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for i := range 4 {
		p := fixturePayment(now, i)
		v, err := encode(&p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v, false)
		f.Add(v[recordHeaderSize:], true)
	}
	f.Add([]byte{}, false)
	f.Add([]byte{recordFormat, 0, 0, 0, 2, 0, 0, 0, 0, '{', '}'}, false)
	f.Add([]byte(`{"req":"pos-1","state":"PENDING"}`), false)
	f.Add([]byte(`{"req":"pos-1","state":"PENDING"}`), true)
	f.Add([]byte(`{"req":"pos-1","state":"DONE"}`), true)
	f.Add([]byte(`{"req":"","state":"SUCCESS"}`), true)
	f.Add([]byte(`{"req":"pos-1","state":"SUCCESS","acceptedAt":"2026-11-30T20:00:00+08:00","audit":[{"t":"2026-11-30T12:00:00.5Z"}]}`), true)
	f.Add([]byte(`{"req":"pos-\xff","state":"CANCELLED","amt":1e3}`), true)

	f.Fuzz(func(t *testing.T, v []byte, reframe bool) {
		if reframe {
			v = frame(v)
		}
		p, err := decodeRecord(v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("refusal %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if p.RequestID == "" || !p.State.valid() {
			t.Fatalf("accepted a record without a request id or a known state: %+v", p)
		}
		again, err := encode(&p)
		if err != nil {
			t.Fatalf("an accepted record does not encode again: %v", err)
		}
		q, err := decodeRecord(again)
		if err != nil {
			t.Fatalf("an accepted record, encoded again, does not decode: %v", err)
		}
		third, err := encode(&q)
		if err != nil || !bytes.Equal(again, third) {
			t.Fatalf("an accepted record changes on a second round trip (%v):\n%q\n%q", err, again, third)
		}
	})
}

// fuzzStoreSize is the number of payments in the store FuzzSalvageScan
// damages: enough for a few leaf pages and a branch.
const fuzzStoreSize = 40

// FuzzSalvageScan writes fuzzed bytes over a real store file, at a fuzzed
// offset, and reads the result as Open and salvage do: the integrity
// check's walk and readDamaged (the tree walk and the page and record
// scans). Neither panics; salvage fails only for a newer schema; every
// payment it finds is whole and under its own id; and a payment whose
// record bytes the damage left alone is found, even when the damage made
// the schema stamp read 1, as long as the tree still leads to a record.
func FuzzSalvageScan(f *testing.F) {
	path := filepath.Join(f.TempDir(), "store.db")
	want := writeFixture(f, path, fuzzStoreSize)
	clean, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	// Where each record and the schema stamp lie in the clean file.
	where := map[string][2]int{}
	for id, p := range want {
		v, err := encode(&p)
		if err != nil {
			f.Fatal(err)
		}
		at := bytes.Index(clean, v)
		if at < 0 || bytes.Contains(clean[at+1:], v) {
			f.Fatalf("record %q is not in the file exactly once", id)
		}
		where[id] = [2]int{at, at + len(v)}
	}
	// The live stamp is the copy the walk reads; older copies lie on free pages.
	stamp := -1
	for from := 0; stamp < 0; {
		i := bytes.Index(clean[from:], []byte("schema3"))
		if i < 0 {
			f.Fatal("no live schema stamp in the file")
		}
		at := from + i + len("schema")
		d := bytes.Clone(clean)
		d[at] = 'x'
		if string(walkFile(d, nil).get(bucketMeta, keySchema)) == "x" {
			stamp = at
		}
		from = at
	}

	ps := os.Getpagesize()
	f.Add(uint32(0), []byte{0xff})
	f.Add(uint32(ps), bytes.Repeat([]byte{0}, 64))
	f.Add(uint32(2*ps), []byte{3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0xff, 0xff})
	f.Add(uint32(where["pos-000003"][0]), []byte{recordFormat, 0xff, 0xff})
	f.Add(uint32(where["pos-000004"][0]+recordHeaderSize+3), []byte("XXX"))
	f.Add(uint32(stamp), []byte("x"))
	f.Add(uint32(stamp), []byte("4"))
	f.Add(uint32(stamp), []byte("2"))
	f.Add(uint32(stamp), []byte("1")) // a stamp of 1 once lost every payment to salvage
	f.Add(uint32(len(clean)-ps), bytes.Repeat([]byte{0xa5}, 300))
	f.Add(uint32(3*ps+16), []byte{1, 0, 0, 0, 0, 0xff, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0})

	f.Fuzz(func(t *testing.T, off uint32, patch []byte) {
		data := bytes.Clone(clean)
		at := int(off % uint32(len(data)))
		end := at + copy(data[at:], patch)

		img := walkFile(data, nil)
		checkData(context.Background(), data, "store.db", false, 2, 0)
		checkReadingImage(data, "store.db")

		p := filepath.Join(t.TempDir(), "store.db")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		found, _, rep, err := readDamaged(p)
		if err != nil {
			if !errors.Is(err, ErrSchema) {
				t.Fatalf("salvage failed: %v", err)
			}
			return
		}
		if rep == nil {
			t.Fatal("salvage gave no report")
		}
		for id, got := range found {
			if got.RequestID != id || !got.State.valid() {
				t.Fatalf("salvage found %+v under %q", got, id)
			}
		}
		if data[stamp] == '1' && !liveFramed(img) {
			// The file now reads as a damaged schema-1 file, whose stray
			// schema-2 records are stale copies and rightly left alone.
			return
		}
		for id, r := range where {
			if end <= r[0] || at >= r[1] {
				if _, ok := found[id]; !ok {
					t.Fatalf("damage at bytes %d..%d lost payment %q, whose record at %d..%d is intact; report %v", at, end, id, r[0], r[1], rep)
				}
			}
		}
	})
}
