package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"

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

// Check verifies the file: it maps the file read-only through the store's
// own handle and walks its pages without bbolt (walkFile, whose invariant
// is written in walk.go), so that no damage can make it fault, loop or
// grow without bound; it checks that the schema is one this program
// reads, that every record has its frame and checksum and that its JSON
// parses, with the fields the indexes depend on decoding (checkRecord),
// and that the indexes hold exactly the keys the index invariant
// (layout.go) demands, comparing order-independent digests of the keys.
// It returns a *CheckError (ErrCorrupt) listing the problems, or another
// error when the file could not be read at all.
//
// Its memory does not grow with the file: the file is mapped, not read
// (on Unix the pages are the page cache's), the records are handed to
// the workers that decode them in batches of a bounded number, and of the
// indexes only a digest per index is kept.
//
// Check holds the store's write lock (on a read-only store, a read
// transaction) for its duration, so that no commit changes the file under
// it.
func (s *Store) Check() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	run := s.db.Update
	if s.readOnly {
		run = s.db.View
	}
	errRollback := errors.New("rollback")
	err := run(func(tx *bolt.Tx) error {
		if err := checkFile(s.file, s.readOnly); err != nil {
			return err
		}
		return errRollback
	})
	if errors.Is(err, errRollback) {
		return nil
	}
	return err
}

// checkFile maps the bbolt file f and checks it as Check does, decoding
// the records on every core. A file with no buckets is new: fine for a
// writable store, which lays it out, and an error for a read-only one.
func checkFile(f *os.File, readOnly bool) error {
	data, unmap, err := mapFile(f)
	if err != nil {
		return fmt.Errorf("read the store %s: %w", f.Name(), err)
	}
	defer unmap()
	_, err = checkData(context.Background(), data, f.Name(), readOnly, runtime.GOMAXPROCS(0), 0)
	return err
}

// checkData is Check on the file image data: from the meta page bbolt
// would choose when txid is 0, else from the meta page of transaction
// txid, reporting false when neither meta page holds it any more
// (walkFileAt). The records are decoded by the given number of workers
// (one per core at open; one, the walk's own goroutine, in the
// background); it stops early, with ctx's error, when ctx ends. A fault
// or panic reading data is reported as a *CheckError.
func checkData(ctx context.Context, data []byte, path string, readOnly bool, workers int, txid uint64) (ok bool, err error) {
	ok = true
	err = guard(func() error {
		c := newChecker(ctx, workers)
		defer c.stop()
		var img *fileImage
		if txid == 0 {
			img = walkFile(data, c.visitors())
		} else if img, ok = walkFileAt(data, txid, c.visitors(), func() bool { return ctx.Err() != nil }); !ok {
			return nil
		}
		return c.finish(img, path, readOnly)
	})
	if errors.Is(err, errPanic) {
		err = &CheckError{Problems: []string{err.Error()}}
	}
	return ok, err
}

// checkLayout checks what a store file holds besides its records: a
// schema this program reads, every bucket of that schema, and the meta
// bucket's salvage history and reconciliation summary. It adds what is
// wrong to p and returns the schema; an error stops the check there (an
// unknown schema, or buckets missing, with whatever p held before).
func checkLayout(img *fileImage, p *problems) (int, error) {
	schema, err := imageSchema(img)
	if errors.Is(err, ErrSchema) {
		return 0, err
	} else if err != nil {
		p.addf("%v", err)
		return 0, p.err()
	}
	for _, name := range bucketsOf(schema) {
		if _, ok := img.buckets[string(name)]; !ok {
			p.addf("bucket %q missing", name)
		}
	}
	if err := p.err(); err != nil {
		return 0, err
	}
	if v := img.get(bucketMeta, keySalvages); v != nil {
		if _, err := decodeSalvages(v); err != nil {
			p.addf("the salvage history is damaged: %v", err)
		}
	}
	if v := img.get(bucketMeta, keyReconciliation); v != nil {
		if _, err := decodeReconciliation(v); err != nil {
			p.addf("the reconciliation summary is damaged: %v", err)
		}
	}
	return schema, nil
}

// get returns the value of key in the top-level bucket name, or nil.
func (img *fileImage) get(name, key []byte) []byte {
	for _, kv := range img.buckets[string(name)] {
		if bytes.Equal(kv.k, key) {
			return kv.v
		}
	}
	return nil
}

// imageSchema reads the schema stamp of a walked file.
func imageSchema(img *fileImage) (int, error) {
	if _, ok := img.buckets[string(bucketMeta)]; !ok {
		return 0, fmt.Errorf("meta bucket missing: %w", ErrCorrupt)
	}
	return parseSchema(img.get(bucketMeta, keySchema))
}

// The index invariant is checked with digests (idDigest, readcheck.go):
// per index, one of the keys the records call for and one of the keys the
// index holds, equal when the two sets are (but for a chance of 2^-64).
// Their memory is the same at ten payments and at ten million; when two
// differ, the problem names the index and both counts.

// batchSize is the number of records handed to a worker at once.
const batchSize = 256

// batch is a run of records of the payments bucket, numbered from first
// in key order, of a file of the given schema; its pairs are slices of
// the file image.
type batch struct {
	first  int
	schema int
	recs   []pair
}

// tally is what one worker found in the records it decoded: per index of
// indexBuckets, the digest of the keys they call for, and the problems of
// the lowest-numbered records.
type tally struct {
	want     [len(indexBuckets)]idDigest
	problems []numbered
	more     int   // problems beyond those kept
	err      error // a fault or panic that ended the worker
}

// numbered is a record's problem and the record's place in key order.
type numbered struct {
	n       int
	problem string
}

// checker checks the records and indexes of a file while walkFile walks
// it: the visitors it gives the walk keep the meta bucket, digest the
// keys of the indexes, and hand the records in batches to the workers,
// which decode them and digest the index keys they call for. At most
// 2×workers batches exist at once, so its memory does not grow with the
// file.
type checker struct {
	ctx    context.Context
	seed   maphash.Seed
	schema int // the stamp once the meta bucket is walked, else -1
	meta   []pair
	held   [len(indexBuckets)]idDigest // the keys the indexes hold
	n      int                         // records walked
	cur    []pair                      // the batch being filled
	// With more than one worker, batches go to the workers through work
	// and come back empty through free.
	work    chan batch
	free    chan []pair
	wg      sync.WaitGroup
	tallies []*tally
}

func newChecker(ctx context.Context, workers int) *checker {
	c := &checker{ctx: ctx, seed: maphash.MakeSeed(), schema: -1}
	c.tallies = []*tally{{}}
	if workers > 1 {
		c.work = make(chan batch)
		c.free = make(chan []pair, 2*workers)
		for range 2 * workers {
			c.free <- make([]pair, 0, batchSize)
		}
		c.tallies = make([]*tally, workers)
		for w := range workers {
			t := &tally{}
			c.tallies[w] = t
			c.wg.Go(func() {
				// A fault reading the map is caught on this goroutine
				// too; the batches left are then dropped.
				t.err = guard(func() error {
					for b := range c.work {
						c.decode(t, b)
						c.free <- b.recs[:0]
					}
					return nil
				})
				for b := range c.work {
					c.free <- b.recs[:0]
				}
			})
		}
	}
	c.cur = c.take()
	return c
}

// take returns an empty batch to fill.
func (c *checker) take() []pair {
	if c.free == nil {
		return make([]pair, 0, batchSize)
	}
	return <-c.free
}

// stop ends the workers; it is safe to call more than once.
func (c *checker) stop() {
	if c.work != nil {
		close(c.work)
		c.wg.Wait()
		c.work = nil
	}
}

// visitors returns the functions walkFile passes the pairs of the store's
// buckets to, and of any other bucket, which are dropped.
func (c *checker) visitors() map[string]func(k, v []byte) {
	visit := map[string]func(k, v []byte){
		// meta sorts before payments, so its stamp is known when the
		// records are walked.
		string(bucketMeta): func(k, v []byte) {
			switch {
			case bytes.Equal(k, keySchema):
				c.schema, _ = parseSchema(v)
			case !bytes.Equal(k, keySalvages) && !bytes.Equal(k, keyReconciliation):
				return // the only other keys checkLayout reads
			}
			c.meta = append(c.meta, pair{k, v})
		},
		string(bucketPayments): c.record,
		"":                     func(k, v []byte) {},
	}
	for i, name := range indexBuckets {
		visit[string(name)] = func(k, _ []byte) { c.held[i].add(c.seed, k) }
	}
	return visit
}

// record takes the next record of the payments bucket.
func (c *checker) record(k, v []byte) {
	c.cur = append(c.cur, pair{k, v})
	if len(c.cur) == batchSize {
		c.flush()
	}
}

// flush hands the batch being filled to a worker, or decodes it on the
// walk's goroutine when there is one worker.
func (c *checker) flush() {
	if len(c.cur) == 0 || c.ctx.Err() != nil {
		c.cur = c.cur[:0]
		return
	}
	b := batch{first: c.n, schema: c.schema, recs: c.cur}
	c.n += len(c.cur)
	if c.work == nil {
		c.decode(c.tallies[0], b)
		c.cur = c.cur[:0]
		return
	}
	c.work <- b
	c.cur = c.take()
}

// decode checks the records of b into t. Records of a file whose schema
// this program does not read are left alone: the check fails on the
// schema.
func (c *checker) decode(t *tally, b batch) {
	if b.schema < 1 || b.schema > schemaVersion {
		return
	}
	for i, r := range b.recs {
		problem, rec := checkRecord(b.schema, r.k, r.v)
		if problem != "" {
			if len(t.problems) < maxProblems {
				t.problems = append(t.problems, numbered{b.first + i, problem})
			} else {
				t.more++
			}
			continue
		}
		eachIndexKey(&rec, func(i int, k []byte) { t.want[i].add(c.seed, k) })
	}
}

// finish ends the walk of img: it checks the layout, then gathers what
// the workers found and compares the indexes' digests.
func (c *checker) finish(img *fileImage, path string, readOnly bool) error {
	c.flush()
	c.stop()
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if _, ok := img.buckets[string(bucketMeta)]; ok {
		img.buckets[string(bucketMeta)] = c.meta
	}
	if err := img.damage.err(); err != nil {
		return err
	}
	if len(img.buckets) == 0 {
		if readOnly {
			return fmt.Errorf("%s holds no posagent store yet; start posagent once to create it", path)
		}
		return nil // a new file; Open lays it out
	}
	var p problems
	schema, err := checkLayout(img, &p)
	if err != nil {
		return err
	}
	var (
		want  [len(indexBuckets)]idDigest
		found []numbered
		more  int
	)
	for _, t := range c.tallies {
		if t.err != nil {
			return &CheckError{Problems: []string{t.err.Error()}}
		}
		for i := range want {
			want[i].n += t.want[i].n
			want[i].sum += t.want[i].sum
		}
		found = append(found, t.problems...)
		more += t.more
	}
	slices.SortFunc(found, func(a, b numbered) int { return a.n - b.n })
	for _, f := range found {
		p.addf("%s", f.problem)
	}
	p.extra += more
	for i, name := range indexBuckets {
		if !slices.ContainsFunc(indexesOf(schema), func(n []byte) bool { return bytes.Equal(n, name) }) {
			continue
		}
		switch held, want := c.held[i], want[i]; {
		case held == want:
		case held.n == want.n:
			p.addf("index %q holds %d keys, as many as the records call for, but not the same ones", name, held.n)
		default:
			p.addf("index %q holds %d keys and the records call for %d", name, held.n, want.n)
		}
	}
	return p.err()
}

// checkRecord checks the record v stored under key k in a file of the
// given schema: its frame and checksum, that its JSON parses, and that
// the fields the indexes depend on decode and agree (decodeIndexed). It
// returns what is wrong, if anything, and those fields.
func checkRecord(schema int, k, v []byte) (string, Payment) {
	rec, err := decodeIndexed(schema, v)
	switch {
	case err != nil:
		return fmt.Sprintf("record %q is damaged: %v", k, err), Payment{}
	case rec.RequestID != string(k):
		return fmt.Sprintf("record %q holds request id %q", k, rec.RequestID), Payment{}
	case !rec.State.Final() && rec.NextAt.IsZero():
		return fmt.Sprintf("record %q is %s without a next action time", k, rec.State), Payment{}
	case rec.State.Final() && rec.FinishedAt.IsZero():
		return fmt.Sprintf("record %q is %s without a finish time", k, rec.State), Payment{}
	}
	return "", rec
}
