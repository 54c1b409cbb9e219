package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
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

// Check verifies the file: it reads the whole file through the store's
// own handle and walks its pages without bbolt (walkFile, whose invariant
// is written in walk.go), so that no damage can make it fault, loop or
// grow without bound; then it checks that the schema is one this program
// reads, that every record decodes in full with its checksum, and that the
// indexes hold exactly the keys the index invariant (layout.go) demands.
// It returns a *CheckError (ErrCorrupt) listing the problems, or another
// error when the file could not be read at all.
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

// checkFile reads the bbolt file f and checks it as Check does. A file
// with no buckets is new: fine for a writable store, which lays it out,
// and an error for a read-only one.
func checkFile(f *os.File, readOnly bool) error {
	data, err := readAll(f)
	if err != nil {
		return fmt.Errorf("read the store %s: %w", f.Name(), err)
	}
	err = guard(func() error { return checkImage(walkFile(data, nil), f.Name(), readOnly) })
	if errors.Is(err, errPanic) {
		return &CheckError{Problems: []string{err.Error()}}
	}
	return err
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

// checkImage is Check on a walked file.
func checkImage(img *fileImage, path string, readOnly bool) error {
	return checkImageWith(context.Background(), img, path, readOnly, runtime.GOMAXPROCS(0))
}

// checkImageWith is checkImage with the records decoded by the given
// number of workers; it stops early, with ctx's error, when ctx ends.
func checkImageWith(ctx context.Context, img *fileImage, path string, readOnly bool, workers int) error {
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
	checkIndexesWith(ctx, img, schema, &p, workers)
	if err := ctx.Err(); err != nil {
		return err
	}
	return p.err()
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

// checkIndexesWith verifies the index invariant: every record's index keys are
// present, and every index holds no keys beyond those. Records are decoded
// by the given number of workers (one per CPU at open, one in the
// background), since decoding is most of the cost of a check; they only
// read the file image, which nothing writes. It stops early, leaving the
// problems incomplete, when ctx ends.
func checkIndexesWith(ctx context.Context, img *fileImage, schema int, p *problems, workers int) {
	type verdict struct {
		problem string
		keys    map[string][]byte
	}
	recs := img.buckets[string(bucketPayments)]
	verdicts := make([]verdict, len(recs))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(recs); i += workers {
				if i%1024 == w && ctx.Err() != nil {
					return
				}
				verdicts[i].problem, verdicts[i].keys = checkRecord(schema, recs[i].k, recs[i].v)
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}

	// want holds, per index, the keys the records call for.
	want := map[string]map[string]bool{}
	indexes := indexesOf(schema)
	for _, name := range indexes {
		want[string(name)] = map[string]bool{}
	}
	for _, v := range verdicts {
		if v.problem != "" {
			p.addf("%s", v.problem)
		}
		for name, key := range v.keys {
			if keys := want[name]; keys != nil { // an index of this schema
				keys[string(key)] = true
			}
		}
	}
	for _, name := range indexes {
		keys := want[string(name)]
		for _, kv := range img.buckets[string(name)] {
			if !keys[string(kv.k)] {
				p.addf("index %q holds key %q that no record calls for", name, kv.k)
			}
			delete(keys, string(kv.k))
		}
		for k := range keys {
			p.addf("index %q lacks key %q that a record calls for", name, k)
		}
	}
}

// checkRecord decodes one record in full and returns what is wrong with
// it, if anything, and the index keys it calls for.
func checkRecord(schema int, k, v []byte) (string, map[string][]byte) {
	rec, err := decodeSchema(schema, v)
	switch {
	case err != nil:
		return fmt.Sprintf("record %q is damaged: %v", k, err), nil
	case rec.RequestID != string(k):
		return fmt.Sprintf("record %q holds request id %q", k, rec.RequestID), nil
	case !rec.State.Final() && rec.NextAt.IsZero():
		return fmt.Sprintf("record %q is %s without a next action time", k, rec.State), nil
	case rec.State.Final() && rec.FinishedAt.IsZero():
		return fmt.Sprintf("record %q is %s without a finish time", k, rec.State), nil
	}
	return "", indexKeys(&rec)
}
