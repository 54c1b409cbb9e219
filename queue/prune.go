package queue

import (
	"bytes"
	"time"

	bolt "go.etcd.io/bbolt"
)

// pruneBatch bounds the payments one Prune transaction removes, so that a
// long backlog does not make one huge commit.
const pruneBatch = 1000

// Prune removes the payments delivered before now minus retention, except
// those flagged for follow-up, and returns how many it removed. Payments
// that are not final or not delivered are never removed. It walks the
// delivered index from its oldest key and stops at the cut-off; each batch
// of up to 1000 payments is one transaction.
func (s *Store) Prune(now time.Time, retention time.Duration) (int, error) {
	cut := timeKey(now.Add(-retention), "")
	total := 0
	for {
		n, more, err := s.pruneBatch(cut)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// pruneBatch removes up to pruneBatch payments delivered before cut and
// reports whether more may be left.
func (s *Store) pruneBatch(cut []byte) (int, bool, error) {
	n, more := 0, false
	err := s.update(func(tx *bolt.Tx) error {
		n, more = 0, false
		var victims []Payment
		c := tx.Bucket(bucketDelivered).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], cut[:8]) < 0; k, _ = c.Next() {
			if len(victims) == pruneBatch {
				more = true
				break
			}
			p, err := indexed(tx, k)
			if err != nil {
				return err
			}
			if p.FollowUp == "" {
				victims = append(victims, p)
			}
		}
		for i := range victims {
			if err := deleteRecord(tx, &victims[i]); err != nil {
				return err
			}
		}
		n = len(victims)
		if n == 0 {
			return errUnchanged
		}
		return nil
	})
	if err == errUnchanged {
		err = nil
	}
	return n, more, err
}
