package queue

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Reconciliation is the summary of the last comparison of the store with
// Alipay's reports (`posagent reconcile`), kept so that the status page and
// the metrics show when the terminal was last reconciled and what was
// found. The store keeps it as given; the reconcile package gives it its
// meaning.
type Reconciliation struct {
	Time  time.Time `json:"time"`  // when it ran
	Files []string  `json:"files"` // the report files read
	// From and To bound the period the reports cover: From included, To
	// not.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	Rows int       `json:"rows"` // report rows read
	// Matched counts the payments on which both sides agree.
	Matched int `json:"matched"`
	// Discrepancies counts the findings that need a person; Counts has
	// the findings of every kind, those for information included.
	Discrepancies int            `json:"discrepancies"`
	Counts        map[string]int `json:"counts"`
}

// keyReconciliation is the meta key of the last Reconciliation, framed
// JSON like a record.
var keyReconciliation = []byte("reconciliation")

// PutReconciliation replaces the stored summary of the last reconciliation
// with r.
func (s *Store) PutReconciliation(r Reconciliation) error {
	r.Time, r.From, r.To = r.Time.UTC().Round(0), r.From.UTC().Round(0), r.To.UTC().Round(0)
	j, err := json.Marshal(r)
	if err != nil {
		return err
	}
	err = s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyReconciliation, frame(j))
	})
	if err != nil {
		return fmt.Errorf("store the reconciliation summary in %s: %w", s.path, err)
	}
	return nil
}

// LastReconciliation returns the summary PutReconciliation stored last; ok
// is false when there is none. A salvaged store starts without one.
func (s *Store) LastReconciliation() (r Reconciliation, ok bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyReconciliation)
		if v == nil {
			return nil
		}
		ok = true
		r, err = decodeReconciliation(v)
		return err
	})
	if err != nil {
		return Reconciliation{}, false, fmt.Errorf("read the reconciliation summary of %s: %w", s.path, err)
	}
	return r, ok, nil
}

// decodeReconciliation decodes the stored summary; a damaged one gives an
// error wrapping ErrCorrupt.
func decodeReconciliation(v []byte) (Reconciliation, error) {
	j, err := unframe(v)
	if err != nil {
		return Reconciliation{}, err
	}
	var r Reconciliation
	if err := json.Unmarshal(j, &r); err != nil {
		return Reconciliation{}, fmt.Errorf("it does not decode (%v): %w", err, ErrCorrupt)
	}
	return r, nil
}
