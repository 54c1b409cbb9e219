package queue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The bit-flip corpus: a store with branch pages, overflow pages (payments
// with long audit trails) and a freelist, in which single bits are flipped
// in every kind of page. Every case must open, or salvage and open, within
// openBound, and every payment whose record bytes were not touched must
// come back as it was. BITFLIP_CASES sets the cases per page kind (default
// 6) and BITFLIP_SEED the seed (default: a new one, logged).
const openBound = 5 * time.Second

// flipStore writes the corpus store at path in one transaction, so each
// record is on disk exactly once, and returns its payments.
func flipStore(t *testing.T, path string) map[string]Payment {
	t.Helper()
	c := newClock()
	s, err := Open(path, Options{Now: c.Now, AuditLimit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string]Payment{}
	err = s.db.Update(func(tx *bolt.Tx) error {
		for i := range 600 {
			p := fixturePayment(c.Now(), i)
			if i%97 == 5 {
				// A long audit trail: a record of several pages.
				for j := range 120 {
					p.Audit = append(p.Audit, Event{Time: c.Now(), Call: CallInquiry, ResultStatus: "U", Error: fmt.Sprintf("timeout number %d waiting for Alipay", j)})
				}
			}
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

// flipTarget is a place a bit may be flipped: bytes [from, to) of the file.
type flipTarget struct {
	kind     string
	from, to int
}

// flipTargets finds the pages of each kind in the file image data by
// parsing it, and the bytes of every record.
func flipTargets(t *testing.T, data []byte) (map[string][]flipTarget, map[string][2]int) {
	t.Helper()
	ps := pageSize(data)
	m0, err0 := readMeta(data, 0)
	m1, err1 := readMeta(data, ps)
	if err0 != nil || err1 != nil {
		t.Fatalf("the corpus store has a bad meta page: %v, %v", err0, err1)
	}
	targets := map[string][]flipTarget{
		"meta": {{"meta", 0, pageHeaderSize + metaSize}, {"meta", ps, ps + pageHeaderSize + metaSize}},
	}
	le := binary.LittleEndian
	for id := 2; id < int(max(m0.high, m1.high)); id++ {
		off := id * ps
		page := data[off:]
		count, overflow := int(le.Uint16(page[10:])), int(le.Uint32(page[12:]))
		if le.Uint64(page) != uint64(id) {
			continue // free, never written over
		}
		switch le.Uint16(page[8:]) {
		case freelistPageFlag:
			targets["freelist"] = append(targets["freelist"], flipTarget{"freelist", off, off + pageHeaderSize + 8*count})
		case branchPageFlag:
			targets["branch"] = append(targets["branch"], flipTarget{"branch", off, off + pageHeaderSize + branchElementSize*count})
		case leafPageFlag:
			// The header and elements; the keys and values are the
			// record bytes below.
			targets["leaf"] = append(targets["leaf"], flipTarget{"leaf", off, off + pageHeaderSize + leafElementSize*count})
			if overflow > 0 {
				targets["overflow count"] = append(targets["overflow count"], flipTarget{"overflow count", off + 12, off + 16})
			}
		}
		id += overflow
	}
	records := map[string][2]int{}
	for at := 0; ; {
		i := bytes.Index(data[at:], recordStart)
		if i < 0 {
			break
		}
		at += i
		n := int(binary.BigEndian.Uint32(data[at-recordHeaderSize+1:]))
		p, err := decodeRecord(data[at-recordHeaderSize : at+n])
		if err != nil {
			t.Fatalf("record at byte %d does not decode: %v", at, err)
		}
		records[p.RequestID] = [2]int{at - recordHeaderSize, at + n}
		targets["record bytes"] = append(targets["record bytes"], flipTarget{"record bytes", at - recordHeaderSize, at + n})
		at += n
	}
	for _, kind := range []string{"meta", "freelist", "branch", "leaf", "overflow count", "record bytes"} {
		if len(targets[kind]) == 0 {
			t.Fatalf("the corpus store has no %s to flip", kind)
		}
	}
	return targets, records
}

func TestBitFlipsOpenOrSalvageWithoutLosingUndamagedPayments(t *testing.T) {
	t.Parallel()
	perKind := 6
	if v, err := strconv.Atoi(os.Getenv("BITFLIP_CASES")); err == nil && v > 0 {
		perKind = v
	}
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("BITFLIP_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("BITFLIP_SEED=%d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	base := filepath.Join(t.TempDir(), "base.db")
	want := flipStore(t, base)
	data, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	targets, records := flipTargets(t, data)

	for _, kind := range []string{"meta", "freelist", "branch", "leaf", "overflow count", "record bytes"} {
		for n := range perKind {
			tg := targets[kind][rng.IntN(len(targets[kind]))]
			at := tg.from + rng.IntN(tg.to-tg.from)
			bit := byte(1) << rng.IntN(8)
			t.Run(fmt.Sprintf("%s/%d/byte %d bit %#x", kind, n, at, bit), func(t *testing.T) {
				damaged := bytes.Clone(data)
				damaged[at] ^= bit
				path := filepath.Join(t.TempDir(), "posagent.db")
				if err := os.WriteFile(path, damaged, 0o600); err != nil {
					t.Fatal(err)
				}
				hit := ""
				for id, r := range records {
					if at >= r[0] && at < r[1] {
						hit = id
					}
				}
				openFlipped(t, path, want, hit)
			})
		}
	}
}

// openFlipped opens the damaged store at path read-only, as doctor and
// `queue list` do, then writable, as the agent does, each within
// openBound, and checks that every payment but hit came back as it was.
func openFlipped(t *testing.T, path string, want map[string]Payment, hit string) {
	t.Helper()
	c := newClock()
	// The corpus keeps long audit trails; so must the store that the
	// salvage writes, for the trails to come back whole.
	r, err := openWithin(t, path, Options{ReadOnly: true, Now: c.Now, AuditLimit: 1000})
	switch {
	case err == nil:
		_, lerr := r.List(Filter{})
		r.Close()
		if lerr != nil {
			t.Fatalf("a store that passed its check cannot be listed: %v", lerr)
		}
	case !errors.Is(err, ErrCorrupt):
		t.Fatalf("read-only Open = %v; want a store or ErrCorrupt", err)
	}

	s, err := openWithin(t, path, Options{Now: c.Now, AuditLimit: 1000})
	if err != nil {
		t.Fatalf("Open = %v; want a store, salvaged if need be", err)
	}
	defer s.Close()
	if rep := s.Report(); rep != nil {
		t.Logf("salvaged: problem %s; page scan %v; %d saved, %d lost", rep.Problem, rep.PageScan, len(rep.Salvaged), len(rep.Lost))
	}
	mustCheck(t, s)
	got, err := s.List(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Payment{}
	for _, p := range got {
		byID[p.RequestID] = p
	}
	for id, w := range want {
		p, ok := byID[id]
		if !ok {
			if id == hit {
				continue // its own bytes were damaged
			}
			t.Fatalf("undamaged payment %s was lost", id)
		}
		p = withoutRecovery(p)
		w.Revision = p.Revision
		if !reflect.DeepEqual(p, w) {
			t.Fatalf("payment %s came back changed: %s, %d audit events; want %s, %d audit events", id, p.State, len(p.Audit), w.State, len(w.Audit))
		}
	}
	if len(byID) > len(want) {
		t.Fatalf("the store holds %d payments; only %d were written", len(byID), len(want))
	}
}

// openWithin opens the store, failing the test when that takes longer
// than openBound.
func openWithin(t *testing.T, path string, opts Options) (*Store, error) {
	t.Helper()
	type result struct {
		s   *Store
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Open(path, opts)
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-time.After(openBound):
		t.Fatalf("Open (read-only %v) took longer than %v", opts.ReadOnly, openBound)
		return nil, nil
	}
}

// withoutRecovery undoes what a salvage adds to an unfinished payment it
// brings back, leaving the payment as it was stored.
func withoutRecovery(p Payment) Payment {
	if !p.Recovered {
		return p
	}
	p.Recovered = false
	p.FollowUp = strings.TrimSuffix(strings.TrimSuffix(p.FollowUp, RecoveredReason), "; ")
	if n := len(p.Audit); n > 0 && p.Audit[n-1].Call == CallFlag && p.Audit[n-1].Note == RecoveredReason {
		p.Audit = p.Audit[:n-1]
	}
	return p
}
