package queue

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The file holds five top-level buckets:
//
//	meta      "schema" -> decimal schema version
//	meta      "salvages" -> framed JSON of []Salvage, the salvage history
//	meta      "reconciliation" -> framed JSON of Reconciliation, the last one
//	payments  request id -> framed JSON of Payment (see frame)
//	due       8-byte big-endian NextAt (Unix ns) + request id -> empty
//	outbox    8-byte big-endian FinishedAt (Unix ns) + request id -> empty
//	delivered 8-byte big-endian DeliveredAt (Unix ns) + request id -> empty
//	accepted  8-byte big-endian AcceptedAt (Unix ns) + request id -> empty (schema 3)
//	followup  request id -> empty
//
// The four time-keyed buckets are indexes: their keys sort by time, so the
// earliest entry is found with one cursor seek, and the accepted index
// gives the payments in the order of acceptance without reading a record
// (List, Page).
//
// Index invariant, kept by writeRecord and deleteRecord (the only code that
// writes the payments bucket) inside the caller's transaction, and checked
// by Check:
//
//	due       has exactly one key per payment that is not final, at its NextAt;
//	outbox    has exactly one key per final, undelivered payment, at its FinishedAt;
//	delivered has exactly one key per delivered payment, at its DeliveredAt;
//	accepted  has exactly one key per payment, at its AcceptedAt;
//	followup  has exactly one key per payment with a FollowUp reason;
//
// and no other keys.
//
// Fill of the pages: bbolt splits a page it writes where the bucket's
// FillPercent says, half full by default, which suits keys that land
// anywhere. Keys that only ever land after the last one (the accepted,
// outbox and delivered indexes: acceptance, finish and delivery times
// only grow; a new request id sorting after every stored one, and the
// records of the last few payments, which change while they are open)
// would leave every page half empty behind them, so a write near the end
// of a bucket fills pages to appendFill (fill, used by writeRecord and
// moveIndex).
var (
	bucketMeta      = []byte("meta")
	bucketPayments  = []byte("payments")
	bucketDue       = []byte("due")
	bucketOutbox    = []byte("outbox")
	bucketDelivered = []byte("delivered")
	bucketAccepted  = []byte("accepted")
	bucketFollowUp  = []byte("followup")

	allBuckets = [][]byte{bucketMeta, bucketPayments, bucketDue, bucketOutbox, bucketDelivered, bucketAccepted, bucketFollowUp}

	keySchema   = []byte("schema")
	keySalvages = []byte("salvages")
)

// schemaVersion is the layout above and the record encoding below. A file
// with a higher version is refused; a file of schema 1, whose records are
// plain JSON, or of schema 2, which has no accepted index, is migrated at
// Open (migrate).
const schemaVersion = 3

// framedSchema is the first schema whose records are framed; acceptedSchema
// the first with the accepted index.
const (
	framedSchema   = 2
	acceptedSchema = 3
)

// bucketsOf returns the buckets a file of the given schema holds.
func bucketsOf(schema int) [][]byte {
	if schema >= acceptedSchema {
		return allBuckets
	}
	return [][]byte{bucketMeta, bucketPayments, bucketDue, bucketOutbox, bucketDelivered, bucketFollowUp}
}

// indexesOf returns the index buckets of a file of the given schema.
func indexesOf(schema int) [][]byte {
	if schema >= acceptedSchema {
		return indexBuckets[:]
	}
	return [][]byte{bucketDue, bucketOutbox, bucketDelivered, bucketFollowUp}
}

// appendFill is the FillPercent of writes at the end of a bucket: pages
// left behind stay that full. Not 1.0, so that a record that grows a
// little later (an audit event, its delivery) does not split its page at
// once.
const appendFill = 0.9

// tailKeys is how near the last key of a bucket a write must land to count
// as one at the end.
const tailKeys = 32

// fill sets b's FillPercent for a write of key k: appendFill when k lands
// among the last tailKeys keys of b (a new payment, whose request id sorts
// after the others, or a payment of the last few that is still changing;
// a new key of a time index), bbolt's default otherwise. A page split at
// the end is then left behind nearly full, and nothing is written to it
// again but the last changes of its newest records; a page split anywhere
// else keeps half its room for the keys that may still land there. bbolt
// applies the value to every page of b the transaction writes; posagent's
// transactions write one payment each, except bulk ones, which write in
// key order.
func fill(b *bolt.Bucket, k []byte) {
	c := b.Cursor()
	at, _ := c.Seek(k)
	for i := 0; at != nil; i++ {
		if i == tailKeys {
			b.FillPercent = bolt.DefaultFillPercent
			return
		}
		at, _ = c.Next()
	}
	b.FillPercent = appendFill
}

// Record encoding of schema 2: every value of the payments bucket, and the
// salvage history in the meta bucket, is framed as
//
//	format byte 0x02, length of the JSON u32, CRC-32C u32, JSON
//
// (big-endian), the checksum taken over the format byte, the length and
// the JSON. A value whose frame or checksum does not match is damaged and
// never used: decoding it gives an error wrapping ErrCorrupt. The length
// lets salvage find a record in the file's bytes without the page that
// should lead to it (scanRecords).
const (
	recordFormat     = 0x02
	recordHeaderSize = 9
)

// castagnoli is the CRC-32C table; it is only read.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frame wraps the JSON j in the record frame.
func frame(j []byte) []byte {
	v := make([]byte, recordHeaderSize+len(j))
	v[0] = recordFormat
	binary.BigEndian.PutUint32(v[1:], uint32(len(j)))
	copy(v[recordHeaderSize:], j)
	binary.BigEndian.PutUint32(v[5:], frameSum(v))
	return v
}

// frameSum is the checksum of the framed value v.
func frameSum(v []byte) uint32 {
	return crc32.Update(crc32.Checksum(v[:5], castagnoli), castagnoli, v[recordHeaderSize:])
}

// unframe returns the JSON inside the framed value v, or an error wrapping
// ErrCorrupt when the frame or its checksum does not match.
func unframe(v []byte) ([]byte, error) {
	switch {
	case len(v) < recordHeaderSize || v[0] != recordFormat:
		return nil, fmt.Errorf("not a schema-%d record: %w", schemaVersion, ErrCorrupt)
	case int64(binary.BigEndian.Uint32(v[1:])) != int64(len(v)-recordHeaderSize):
		return nil, fmt.Errorf("its length field says %d bytes and it holds %d: %w", binary.BigEndian.Uint32(v[1:]), len(v)-recordHeaderSize, ErrCorrupt)
	case binary.BigEndian.Uint32(v[5:]) != frameSum(v):
		return nil, fmt.Errorf("its checksum does not match: %w", ErrCorrupt)
	}
	return v[recordHeaderSize:], nil
}

// timeKey is the index key of request id req at instant t.
func timeKey(t time.Time, req string) []byte {
	return appendTimeKey(make([]byte, 0, 8+len(req)), t, req)
}

// appendTimeKey appends the index key of request id req at instant t to b.
func appendTimeKey(b []byte, t time.Time, req string) []byte {
	return append(binary.BigEndian.AppendUint64(b, uint64(t.UnixNano())), req...)
}

// splitTimeKey is the inverse of timeKey.
func splitTimeKey(k []byte) (time.Time, string, bool) {
	if len(k) < 9 {
		return time.Time{}, "", false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(k))).UTC(), string(k[8:]), true
}

// indexKeys returns, by place in indexBuckets, the key p must have in
// each index bucket (nil when it must have none).
func indexKeys(p *Payment) [len(indexBuckets)][]byte {
	var keys [len(indexBuckets)][]byte
	eachIndexKey(p, func(i int, k []byte) { keys[i] = bytes.Clone(k) })
	return keys
}

// eachIndexKey passes to fn, for each index bucket p must have a key in,
// the bucket's place in indexBuckets and the key, which fn must not keep.
// This is the index invariant in one place.
func eachIndexKey(p *Payment, fn func(i int, key []byte)) {
	var buf [64]byte
	timed := func(i int, t time.Time) { fn(i, appendTimeKey(buf[:0], t, p.RequestID)) }
	switch {
	case !p.State.Final():
		timed(indexDue, p.NextAt)
	case !p.Delivered():
		timed(indexOutbox, p.FinishedAt)
	default:
		timed(indexDelivered, p.DeliveredAt)
	}
	timed(indexAccepted, p.AcceptedAt)
	if p.FollowUp != "" {
		fn(indexFollowUp, append(buf[:0], p.RequestID...))
	}
}

// indexBuckets are the index buckets of schema 3, in the order of the
// places given below.
var indexBuckets = [...][]byte{bucketDue, bucketOutbox, bucketDelivered, bucketAccepted, bucketFollowUp}

// The places of the indexes in indexBuckets.
const (
	indexDue = iota
	indexOutbox
	indexDelivered
	indexAccepted
	indexFollowUp
)

// encode is the record encoding of schema 2 and later: JSON of Payment, framed.
func encode(p *Payment) ([]byte, error) {
	j, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return frame(j), nil
}

// decode decodes the record stored under key, which must be whole, match
// its checksum, and name key as its request id. Every error wraps
// ErrCorrupt.
func decode(key, v []byte) (Payment, error) {
	p, err := decodeRecord(v)
	if err != nil {
		return Payment{}, fmt.Errorf("record %q is damaged: %w", key, err)
	}
	if p.RequestID != string(key) {
		return Payment{}, fmt.Errorf("record %q holds request id %q: %w", key, p.RequestID, ErrCorrupt)
	}
	return p, nil
}

// decodeRecord decodes a schema-2 record on its own, whatever key it was
// found under.
func decodeRecord(v []byte) (Payment, error) {
	j, err := unframe(v)
	if err != nil {
		return Payment{}, err
	}
	return decodeJSON(j)
}

// decodeJSON decodes the JSON of a record, every field of it, and checks
// what every record must have.
func decodeJSON(j []byte) (Payment, error) {
	var p Payment
	if err := json.Unmarshal(j, &p); err != nil {
		return Payment{}, fmt.Errorf("it does not decode (%v): %w", err, ErrCorrupt)
	}
	if err := checkDecoded(p.RequestID, p.State); err != nil {
		return Payment{}, err
	}
	return p, nil
}

// decodeSchema decodes the record v of a file of the given schema: plain
// JSON for schema 1, framed for schema 2, and for schema 0 (not known,
// the meta bucket being unreadable) whichever its first byte says.
func decodeSchema(schema int, v []byte) (Payment, error) {
	if plainJSON(schema, v) {
		return decodeJSON(v)
	}
	return decodeRecord(v)
}

// plainJSON reports whether the record v of a file of the given schema is
// plain JSON rather than framed (decodeSchema).
func plainJSON(schema int, v []byte) bool {
	return schema == 1 || schema == 0 && len(v) > 0 && v[0] == '{'
}

// checkDecoded checks what every decoded record must have.
func checkDecoded(req string, st State) error {
	switch {
	case req == "":
		return fmt.Errorf("it has no request id: %w", ErrCorrupt)
	case !st.valid():
		return fmt.Errorf("it has unknown state %q: %w", st, ErrCorrupt)
	}
	return nil
}

// indexFields is the part of a record the indexes depend on, with the JSON
// names of Payment's fields: what the full check decodes of every record
// (checkRecord), a fraction of the cost of decoding all of it.
type indexFields struct {
	RequestID   string    `json:"req"`
	AcceptedAt  time.Time `json:"acceptedAt"`
	NextAt      time.Time `json:"nextAt"`
	State       State     `json:"state"`
	FinishedAt  time.Time `json:"finishedAt"`
	DeliveredAt time.Time `json:"deliveredAt"`
	FollowUp    string    `json:"followUp"`
}

// decodeIndexed decodes the record v of a file of the given schema as
// decodeSchema does, but of its JSON only the fields of indexFields; the rest
// must parse (json.Unmarshal checks the whole text before it decodes any
// of it) and is not decoded. It returns a Payment holding those fields.
func decodeIndexed(schema int, v []byte) (Payment, error) {
	j := v
	if !plainJSON(schema, v) {
		var err error
		if j, err = unframe(v); err != nil {
			return Payment{}, err
		}
	}
	var x indexFields
	if err := json.Unmarshal(j, &x); err != nil {
		return Payment{}, fmt.Errorf("it does not decode (%v): %w", err, ErrCorrupt)
	}
	if err := checkDecoded(x.RequestID, x.State); err != nil {
		return Payment{}, err
	}
	return Payment{
		RequestID: x.RequestID, AcceptedAt: x.AcceptedAt, NextAt: x.NextAt, State: x.State,
		FinishedAt: x.FinishedAt, DeliveredAt: x.DeliveredAt, FollowUp: x.FollowUp,
	}, nil
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
	b := tx.Bucket(bucketPayments)
	fill(b, []byte(p.RequestID))
	if err := b.Put([]byte(p.RequestID), v); err != nil {
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
	var was, is [len(indexBuckets)][]byte
	if old != nil {
		was = indexKeys(old)
	}
	if p != nil {
		is = indexKeys(p)
	}
	for i, name := range indexBuckets {
		b := tx.Bucket(name)
		k0, k1 := was[i], is[i]
		if bytes.Equal(k0, k1) {
			continue
		}
		if k0 != nil {
			if err := b.Delete(k0); err != nil {
				return err
			}
		}
		if k1 != nil {
			fill(b, k1)
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
	return decodeIn(tx, []byte(req), v)
}

// decodeIn decodes the record v stored under key in the file of tx. A
// writable store is always of schema 2 once open; a read-only one (doctor,
// `queue list`) may still be of schema 1, which only the agent migrates.
func decodeIn(tx *bolt.Tx, key, v []byte) (Payment, error) {
	if string(tx.Bucket(bucketMeta).Get(keySchema)) != "1" {
		return decode(key, v)
	}
	p, err := decodeJSON(v)
	if err != nil {
		return Payment{}, fmt.Errorf("record %q is damaged: %w", key, err)
	}
	if p.RequestID != string(key) {
		return Payment{}, fmt.Errorf("record %q holds request id %q: %w", key, p.RequestID, ErrCorrupt)
	}
	return p, nil
}

// initLayout creates the buckets of a new file and stamps the schema, or
// checks the stamp of an existing one and migrates an older schema.
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
	v, err := parseSchema(meta.Get(keySchema))
	if err != nil {
		return err
	}
	for _, name := range bucketsOf(v) {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("bucket %q missing: %w", name, ErrCorrupt)
		}
	}
	if v < schemaVersion {
		return migrate(tx, v)
	}
	return nil
}

// migrate brings a file of an older schema to schemaVersion in the
// caller's transaction, so that a file is never part migrated, and
// changes the stamp last. From schema 1, every record gets its frame and
// checksum; from schemas 1 and 2, the accepted index is built from the
// records. Nothing else about the records changes, nor do the other
// indexes.
func migrate(tx *bolt.Tx, from int) error {
	b := tx.Bucket(bucketPayments)
	if from < framedSchema {
		var recs []pair
		err := b.ForEach(func(k, v []byte) error {
			p, err := decodeSchema(from, v)
			if err != nil {
				return fmt.Errorf("migrate record %q from schema %d: %w", k, from, err)
			}
			nv, err := encode(&p)
			if err != nil {
				return err
			}
			recs = append(recs, pair{append([]byte(nil), k...), nv})
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := b.Put(r.k, r.v); err != nil {
				return err
			}
		}
	}
	if from < acceptedSchema {
		if err := buildAccepted(tx); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(schemaVersion)))
}

// buildAccepted makes the accepted index afresh from the records, which
// must be framed. The index is new to schema 3, so whatever a bucket of
// that name holds in an older file is dropped first.
func buildAccepted(tx *bolt.Tx) error {
	if tx.Bucket(bucketAccepted) != nil {
		if err := tx.DeleteBucket(bucketAccepted); err != nil {
			return err
		}
	}
	idx, err := tx.CreateBucket(bucketAccepted)
	if err != nil {
		return err
	}
	// The whole index is written in this one transaction, and bbolt
	// splits its pages in key order when it commits, so they can be full.
	idx.FillPercent = 1.0
	return tx.Bucket(bucketPayments).ForEach(func(k, v []byte) error {
		p, err := decode(k, v)
		if err != nil {
			return fmt.Errorf("migrate record %q to schema %d: %w", k, acceptedSchema, err)
		}
		return idx.Put(timeKey(p.AcceptedAt, p.RequestID), nil)
	})
}

// parseSchema reads the schema stamp, refusing a file from a newer program
// and a stamp that does not read.
func parseSchema(stamp []byte) (int, error) {
	v, err := strconv.Atoi(string(stamp))
	if err != nil || v < 1 {
		return 0, fmt.Errorf("schema version %q unreadable: %w", stamp, ErrCorrupt)
	}
	if v > schemaVersion {
		return v, fmt.Errorf("the store was written with schema %d and this posagent reads up to schema %d; install the newer posagent or point storage.path at another file: %w", v, schemaVersion, ErrSchema)
	}
	return v, nil
}
