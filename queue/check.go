package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

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

// recordHead is the part of a record the index invariant depends on.
// Decoding only it still makes encoding/json validate the whole value, so a
// torn or garbled record is found, at a fraction of the cost of decoding
// the audit trail.
type recordHead struct {
	RequestID   string    `json:"req"`
	State       State     `json:"state"`
	NextAt      time.Time `json:"nextAt"`
	FinishedAt  time.Time `json:"finishedAt"`
	DeliveredAt time.Time `json:"deliveredAt"`
	FollowUp    string    `json:"followUp"`
}

// checkIndexes verifies the index invariant: every record's index keys are
// present, and every index holds no keys beyond those. Records are decoded
// by one worker per CPU, since decoding is most of the cost of a check;
// only this goroutine touches the transaction.
func checkIndexes(tx *bolt.Tx, p *problems) {
	type item struct{ k, v []byte }
	type verdict struct {
		problem string
		keys    map[string][]byte
	}
	items := make(chan []item, 4)
	verdicts := make(chan []verdict, 4)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range items {
				out := make([]verdict, len(batch))
				for i, it := range batch {
					out[i].problem, out[i].keys = checkRecord(it.k, it.v)
				}
				verdicts <- out
			}
		}()
	}
	go func() { wg.Wait(); close(verdicts) }()

	// want holds, per index, the keys the records call for.
	want := map[string]map[string]bool{}
	for _, name := range indexBuckets {
		want[string(name)] = map[string]bool{}
	}
	collect := func(vs []verdict) {
		for _, v := range vs {
			if v.problem != "" {
				p.addf("%s", v.problem)
			}
			for name, key := range v.keys {
				want[name][string(key)] = true
			}
		}
	}
	const batchSize = 256
	batch := make([]item, 0, batchSize)
	_ = tx.Bucket(bucketPayments).ForEach(func(k, v []byte) error {
		// Copies: the workers must not read the transaction's memory map.
		batch = append(batch, item{append([]byte(nil), k...), append([]byte(nil), v...)})
		if len(batch) < batchSize {
			return nil
		}
		for {
			select {
			case items <- batch:
				batch = make([]item, 0, batchSize)
				return nil
			case vs := <-verdicts:
				collect(vs)
			}
		}
	})
	if len(batch) > 0 {
		go func(b []item) { items <- b; close(items) }(batch)
	} else {
		close(items)
	}
	for vs := range verdicts {
		collect(vs)
	}

	for _, name := range indexBuckets {
		keys := want[string(name)]
		_ = tx.Bucket(name).ForEach(func(k, _ []byte) error {
			if !keys[string(k)] {
				p.addf("index %q holds key %q that no record calls for", name, k)
			}
			delete(keys, string(k))
			return nil
		})
		for k := range keys {
			p.addf("index %q lacks key %q that a record calls for", name, k)
		}
	}
}

// checkRecord decodes the head of one record and returns what is wrong
// with it, if anything, and the index keys it calls for.
func checkRecord(k, v []byte) (string, map[string][]byte) {
	var h recordHead
	if err := json.Unmarshal(v, &h); err != nil {
		return fmt.Sprintf("record %q does not decode: %v", k, err), nil
	}
	rec := Payment{RequestID: h.RequestID, State: h.State, NextAt: h.NextAt, FinishedAt: h.FinishedAt, DeliveredAt: h.DeliveredAt, FollowUp: h.FollowUp}
	switch {
	case rec.RequestID != string(k):
		return fmt.Sprintf("record %q holds request id %q", k, rec.RequestID), nil
	case !rec.State.valid():
		return fmt.Sprintf("record %q has unknown state %q", k, rec.State), nil
	case !rec.State.Final() && rec.NextAt.IsZero():
		return fmt.Sprintf("record %q is %s without a next action time", k, rec.State), nil
	case rec.State.Final() && rec.FinishedAt.IsZero():
		return fmt.Sprintf("record %q is %s without a finish time", k, rec.State), nil
	}
	return "", indexKeys(&rec)
}
