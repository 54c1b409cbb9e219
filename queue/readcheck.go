package queue

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
)

// checkReading is the check of a read-only open (doctor, `posagent queue`,
// `posagent reconcile`), made to cost time in proportion to the file's
// size and memory in proportion to nothing much, so that a store of a
// million payments can be listed in a few megabytes. It walks the file
// mapped read-only, as Check does, so bbolt never reads a damaged
// structure; checks each record's frame and checksum and that it names
// its key, without decoding its JSON; and checks that the accepted index,
// which List and Page read, names exactly the stored payments, comparing
// order-independent digests of the two sets of request ids. The other
// indexes, which only the agent reads, are left to the full check the
// agent runs at its open (Check). A record whose JSON does not decode in
// spite of a good checksum is reported when it is read.
func checkReading(f *os.File) error {
	data, unmap, err := mapFile(f)
	if err != nil {
		return fmt.Errorf("read the store %s: %w", f.Name(), err)
	}
	defer unmap()
	err = guard(func() error { return checkReadingImage(data, f.Name()) })
	if errors.Is(err, errPanic) {
		return &CheckError{Problems: []string{err.Error()}}
	}
	return err
}

// idDigest is an order-independent digest of a set of request ids: their
// count and the sum of their hashes, equal for two sets only when they are
// equal (but for a chance of 2^-64).
type idDigest struct {
	n   int
	sum uint64
}

func (d *idDigest) add(seed maphash.Seed, id []byte) {
	d.n++
	d.sum += maphash.Bytes(seed, id)
}

// checkReadingImage is checkReading on the file image data.
func checkReadingImage(data []byte, path string) error {
	var (
		p                 problems
		seed              = maphash.MakeSeed()
		records, accepted idDigest
		meta              []pair
		schema            = -1 // the stamp, once the meta bucket is walked
	)
	ignore := func(k, v []byte) {}
	visit := map[string]func(k, v []byte){
		// meta sorts before payments, so its stamp is known when the
		// records are walked.
		string(bucketMeta): func(k, v []byte) {
			meta = append(meta, pair{k, v})
			if bytes.Equal(k, keySchema) {
				schema, _ = parseSchema(v)
			}
		},
		string(bucketPayments): func(k, v []byte) {
			records.add(seed, k)
			if problem := checkFramed(schema, k, v); problem != "" {
				p.addf("%s", problem)
			}
		},
		string(bucketAccepted): func(k, _ []byte) {
			_, id, _ := splitTimeKey(k)
			accepted.add(seed, []byte(id))
		},
		string(bucketDue):       ignore,
		string(bucketOutbox):    ignore,
		string(bucketDelivered): ignore,
		string(bucketFollowUp):  ignore,
	}
	img := walkFile(data, visit)
	if _, ok := img.buckets[string(bucketMeta)]; ok {
		img.buckets[string(bucketMeta)] = meta
	}
	if err := img.damage.err(); err != nil {
		return err
	}
	if len(img.buckets) == 0 {
		return fmt.Errorf("%s holds no posagent store yet; start posagent once to create it", path)
	}
	v, err := checkLayout(img, &p)
	if err != nil {
		return err
	}
	if v >= acceptedSchema && records != accepted {
		p.addf("index %q names %d payments and the store holds %d, or not the same ones", bucketAccepted, accepted.n, records.n)
	}
	return p.err()
}

// checkFramed checks the record v stored under key k in a file of the
// given schema: for a framed record its frame, its checksum and the
// request id its JSON begins with, without decoding the rest; a schema-1
// record is decoded in full. It returns what is wrong, or "".
func checkFramed(schema int, k, v []byte) string {
	if schema < framedSchema {
		rec, err := decodeSchema(schema, v)
		switch {
		case err != nil:
			return fmt.Sprintf("record %q is damaged: %v", k, err)
		case rec.RequestID != string(k):
			return fmt.Sprintf("record %q holds request id %q", k, rec.RequestID)
		}
		return ""
	}
	j, err := unframe(v)
	if err != nil {
		return fmt.Sprintf("record %q is damaged: %v", k, err)
	}
	// Payment's first field is its request id, which never needs escaping
	// in JSON when it came through the register protocol; one that does
	// is compared in full when the record is read (decode).
	rest, ok := bytes.CutPrefix(j, recordStart)
	if !ok {
		return fmt.Sprintf("record %q does not begin with its request id", k)
	}
	if id, _, ok := bytes.Cut(rest, []byte(`"`)); ok && !bytes.Equal(id, k) && !bytes.Contains(id, []byte(`\`)) {
		return fmt.Sprintf("record %q holds request id %q", k, id)
	}
	return ""
}
