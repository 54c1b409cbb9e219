package queue

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The file holds five top-level buckets:
//
//	meta      "schema" -> decimal schema version
//	payments  request id -> JSON of Payment
//	due       8-byte big-endian NextAt (Unix ns) + request id -> empty
//	outbox    8-byte big-endian FinishedAt (Unix ns) + request id -> empty
//	delivered 8-byte big-endian DeliveredAt (Unix ns) + request id -> empty
//	followup  request id -> empty
//
// The three time-keyed buckets are indexes: their keys sort by time, so the
// earliest entry is found with one cursor seek.
//
// Index invariant, kept by writeRecord and deleteRecord (the only code that
// writes the payments bucket) inside the caller's transaction, and checked
// by Check:
//
//	due       has exactly one key per payment that is not final, at its NextAt;
//	outbox    has exactly one key per final, undelivered payment, at its FinishedAt;
//	delivered has exactly one key per delivered payment, at its DeliveredAt;
//	followup  has exactly one key per payment with a FollowUp reason;
//
// and no other keys.
var (
	bucketMeta      = []byte("meta")
	bucketPayments  = []byte("payments")
	bucketDue       = []byte("due")
	bucketOutbox    = []byte("outbox")
	bucketDelivered = []byte("delivered")
	bucketFollowUp  = []byte("followup")

	allBuckets = [][]byte{bucketMeta, bucketPayments, bucketDue, bucketOutbox, bucketDelivered, bucketFollowUp}

	keySchema = []byte("schema")
)

// schemaVersion is the layout and record encoding described above. A file
// with a higher version is refused; a lower one would be migrated here.
const schemaVersion = 1

// timeKey is the index key of request id req at instant t.
func timeKey(t time.Time, req string) []byte {
	k := make([]byte, 8+len(req))
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano()))
	copy(k[8:], req)
	return k
}

// splitTimeKey is the inverse of timeKey.
func splitTimeKey(k []byte) (time.Time, string, bool) {
	if len(k) < 9 {
		return time.Time{}, "", false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(k))).UTC(), string(k[8:]), true
}

// indexKeys returns, for each index bucket, the key p must have there (nil
// when it must have none). This is the index invariant in one place.
func indexKeys(p *Payment) map[string][]byte {
	keys := map[string][]byte{}
	if !p.State.Final() {
		keys[string(bucketDue)] = timeKey(p.NextAt, p.RequestID)
	} else if !p.Delivered() {
		keys[string(bucketOutbox)] = timeKey(p.FinishedAt, p.RequestID)
	} else {
		keys[string(bucketDelivered)] = timeKey(p.DeliveredAt, p.RequestID)
	}
	if p.FollowUp != "" {
		keys[string(bucketFollowUp)] = []byte(p.RequestID)
	}
	return keys
}

var indexBuckets = [][]byte{bucketDue, bucketOutbox, bucketDelivered, bucketFollowUp}

// encode and decode are the record encoding of schema 1: JSON of Payment.
func encode(p *Payment) ([]byte, error) { return json.Marshal(p) }

func decode(key, v []byte) (Payment, error) {
	var p Payment
	if err := json.Unmarshal(v, &p); err != nil {
		return Payment{}, fmt.Errorf("record %q does not decode: %w", key, err)
	}
	if p.RequestID != string(key) {
		return Payment{}, fmt.Errorf("record %q holds request id %q", key, p.RequestID)
	}
	if !p.State.valid() {
		return Payment{}, fmt.Errorf("record %q has unknown state %q", key, p.State)
	}
	return p, nil
}

// normalize makes every time of p UTC without a monotonic reading, so that
// a record reads back equal to what was written.
func normalize(p *Payment) {
	for _, t := range []*time.Time{&p.AcceptedAt, &p.Deadline, &p.NextAt, &p.FinishedAt, &p.DeliveredAt,
		&p.Track.AbsentSince, &p.Track.CreatedAt} {
		if !t.IsZero() {
			*t = t.UTC().Round(0)
		}
	}
	for i := range p.Audit {
		p.Audit[i].Time = p.Audit[i].Time.UTC().Round(0)
	}
}

// writeRecord stores p, replacing old (nil for a new payment), and moves
// its index keys in the same transaction, keeping the index invariant.
func writeRecord(tx *bolt.Tx, old, p *Payment) error {
	normalize(p)
	p.Revision++
	v, err := encode(p)
	if err != nil {
		return fmt.Errorf("encode payment %q: %w", p.RequestID, err)
	}
	if err := tx.Bucket(bucketPayments).Put([]byte(p.RequestID), v); err != nil {
		return err
	}
	return moveIndex(tx, old, p)
}

// deleteRecord removes p and its index keys in the same transaction.
func deleteRecord(tx *bolt.Tx, p *Payment) error {
	if err := tx.Bucket(bucketPayments).Delete([]byte(p.RequestID)); err != nil {
		return err
	}
	return moveIndex(tx, p, nil)
}

// moveIndex deletes old's index keys and adds p's; either may be nil.
func moveIndex(tx *bolt.Tx, old, p *Payment) error {
	var was, is map[string][]byte
	if old != nil {
		was = indexKeys(old)
	}
	if p != nil {
		is = indexKeys(p)
	}
	for _, name := range indexBuckets {
		b := tx.Bucket(name)
		k0, k1 := was[string(name)], is[string(name)]
		if bytes.Equal(k0, k1) {
			continue
		}
		if k0 != nil {
			if err := b.Delete(k0); err != nil {
				return err
			}
		}
		if k1 != nil {
			if err := b.Put(k1, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadRecord reads the payment with request id req.
func loadRecord(tx *bolt.Tx, req string) (Payment, error) {
	v := tx.Bucket(bucketPayments).Get([]byte(req))
	if v == nil {
		return Payment{}, fmt.Errorf("payment %q: %w", req, ErrNotFound)
	}
	return decode([]byte(req), v)
}

// initLayout creates the buckets of a new file and stamps the schema, or
// checks the stamp of an existing one.
func initLayout(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if tx.Bucket(bucketPayments) != nil {
			return fmt.Errorf("payments without a schema version: %w", ErrCorrupt)
		}
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(schemaVersion)))
	}
	if err := checkSchema(tx); err != nil {
		return err
	}
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("bucket %q missing: %w", name, ErrCorrupt)
		}
	}
	return nil
}

// checkSchema refuses a file from a newer program and a file without a
// readable stamp.
func checkSchema(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return fmt.Errorf("meta bucket missing: %w", ErrCorrupt)
	}
	v, err := strconv.Atoi(string(meta.Get(keySchema)))
	if err != nil || v < 1 {
		return fmt.Errorf("schema version %q unreadable: %w", meta.Get(keySchema), ErrCorrupt)
	}
	if v > schemaVersion {
		return fmt.Errorf("the store was written with schema %d and this posagent reads up to schema %d; install the newer posagent or point storage.path at another file: %w", v, schemaVersion, ErrSchema)
	}
	return nil
}
