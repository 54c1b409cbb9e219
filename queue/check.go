package queue

import (
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// maxProblems bounds the problems a failed check lists.
const maxProblems = 10

// CheckError lists what an integrity check found wrong. It wraps ErrCorrupt.
type CheckError struct {
	Problems []string
}

func (e *CheckError) Error() string {
	return "integrity check failed: " + strings.Join(e.Problems, "; ")
}

func (e *CheckError) Unwrap() error { return ErrCorrupt }

// problems collects at most maxProblems descriptions and counts the rest.
type problems struct {
	list  []string
	extra int
}

func (p *problems) addf(format string, args ...any) {
	if len(p.list) < maxProblems {
		p.list = append(p.list, fmt.Sprintf(format, args...))
		return
	}
	p.extra++
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	list := p.list
	if p.extra > 0 {
		list = append(list, fmt.Sprintf("and %d more", p.extra))
	}
	return &CheckError{Problems: list}
}

// Check verifies the file: every page of every bucket can be read, bbolt's
// own consistency check passes, the schema is one this program reads, every
// record decodes, and the indexes hold exactly the keys the index invariant
// (layout.go) demands. It returns a *CheckError (ErrCorrupt) listing the
// problems, or another error when the file could not be read at all.
//
// The walk over all pages runs first, in this goroutine with panics and
// memory faults caught, so that a damaged page is reported as corruption;
// bbolt's check, which runs in a goroutine of its own, then only visits
// pages already read once. On a writable store Check holds the write lock
// for its duration, which bbolt's check needs to run beside other writers.
func (s *Store) Check() error {
	run := s.db.Update
	if s.readOnly {
		run = s.db.View
	}
	errRollback := errors.New("rollback")
	err := guard(func() error {
		return run(func(tx *bolt.Tx) error {
			if err := checkTx(tx, s.readOnly); err != nil {
				return err
			}
			return errRollback
		})
	})
	switch {
	case errors.Is(err, errRollback):
		return nil
	case errors.Is(err, errPanic):
		return &CheckError{Problems: []string{err.Error()}}
	}
	return err
}

// checkTx is Check inside one transaction.
func checkTx(tx *bolt.Tx, readOnly bool) error {
	var p problems
	empty := true
	_ = tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		empty = false
		return nil
	})
	if empty {
		if readOnly {
			return fmt.Errorf("%s holds no posagent store yet; start posagent once to create it", tx.DB().Path())
		}
		return nil // a new file; Open lays it out
	}
	if err := checkSchema(tx); err != nil {
		if errors.Is(err, ErrSchema) {
			return err
		}
		p.addf("%v", err)
		return p.err()
	}
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			p.addf("bucket %q missing", name)
		}
	}
	if err := p.err(); err != nil {
		return err
	}

	// Read every key and value once; this touches every page.
	n := 0
	for _, name := range allBuckets {
		_ = tx.Bucket(name).ForEach(func(k, v []byte) error {
			n += len(k) + len(v)
			return nil
		})
	}
	for err := range tx.Check() {
		p.addf("bbolt: %v", err)
	}
	if err := p.err(); err != nil {
		return err
	}
	checkIndexes(tx, &p)
	return p.err()
}

// checkIndexes verifies the index invariant: every record's index keys are
// present, and every index holds no keys beyond those.
func checkIndexes(tx *bolt.Tx, p *problems) {
	want := map[string]int{}
	_ = tx.Bucket(bucketPayments).ForEach(func(k, v []byte) error {
		rec, err := decode(k, v)
		if err != nil {
			p.addf("%v", err)
			return nil
		}
		if !rec.State.Final() && rec.NextAt.IsZero() {
			p.addf("record %q is %s without a next action time", k, rec.State)
		}
		if rec.State.Final() && rec.FinishedAt.IsZero() {
			p.addf("record %q is %s without a finish time", k, rec.State)
		}
		for name, key := range indexKeys(&rec) {
			want[name]++
			if tx.Bucket([]byte(name)).Get(key) == nil {
				p.addf("record %q has no entry in index %q", k, name)
			}
		}
		return nil
	})
	for _, name := range indexBuckets {
		if got := tx.Bucket(name).Stats().KeyN; got != want[string(name)] {
			p.addf("index %q holds %d keys, the records call for %d", name, got, want[string(name)])
		}
	}
}
