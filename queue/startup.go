package queue

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The integrity check in full (Check) reads and decodes the whole file:
// seconds at 100,000 payments, more with a cold page cache. The agent must
// not make the register wait that long at every start, so Open checks the
// file in full only when it has a reason to, and otherwise looks at what
// bbolt itself reads at open; the full check then runs while the agent
// serves (Verify). docs/design.md, "Checking the store", says why this is
// safe.
//
// Two keys of the meta bucket (no new bucket, no migration) say what the
// last run left:
//
//	meta "stopped"   -> RFC 3339 UTC time of the last clean Close; written
//	                    by Close, deleted by the commit that opens the file
//	meta "unchecked" -> decimal count of the opens since the file last
//	                    passed a full check; Open adds one, a check that
//	                    passes (at Open or by Verify) sets it to 0
//
// Open checks in full when the quick look (quickLook) finds anything
// wrong, or when the last run did not stop cleanly and had not finished a
// full check either: a run that crashed, perhaps because of damage bbolt
// met, before its own check could look. Otherwise the file is one bbolt
// left consistent: closed cleanly, or cut off by a crash after a full
// check had passed, and bbolt's copy-on-write commits with synced meta
// pages leave a crashed file as its last commit left it.
var (
	keyStopped   = []byte("stopped")
	keyUnchecked = []byte("unchecked")
)

// startMarks is what the quick look read of the last run.
type startMarks struct {
	stopped   bool // the last run closed the file cleanly
	unchecked int  // opens since the last full check that passed
}

// needsCheck reports whether Open must check the file in full.
func (m startMarks) needsCheck() bool { return !m.stopped && m.unchecked > 0 }

// maxLookPages bounds the pages the quick look reads.
const maxLookPages = 64

// quickLook reads, without bbolt, what bbolt reads when it opens the file
// at path and what the agent reads first: both meta pages, the freelist,
// and the path from the root to the meta bucket's keys, each checked as
// walkFile checks it (walk.go). It reads a bounded number of pages, so its
// cost does not grow with the store. Any problem is an ErrCorrupt: the
// caller then checks the file in full, which says what is wrong.
func quickLook(path string) (startMarks, error) {
	f, err := os.Open(path)
	if err != nil {
		return startMarks{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return startMarks{}, err
	}
	l := &looker{f: f, size: fi.Size()}
	var marks startMarks
	err = guard(func() error {
		var err error
		marks, err = l.look()
		return err
	})
	if err != nil {
		return startMarks{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return marks, nil
}

// looker reads pages of a bbolt file one at a time.
type looker struct {
	f     *os.File
	size  int64
	img   fileImage // ps, high and the problems readElements finds
	pages int
}

// look is quickLook on l's file.
func (l *looker) look() (startMarks, error) {
	head := make([]byte, min(l.size, 2*65536+pageHeaderSize+metaSize))
	if _, err := io.ReadFull(io.NewSectionReader(l.f, 0, int64(len(head))), head); err != nil {
		return startMarks{}, fmt.Errorf("read the meta pages: %w", err)
	}
	m0, err := readMeta(head, 0)
	if err != nil {
		return startMarks{}, err
	}
	m1, err := readMeta(head, m0.ps)
	switch {
	case err != nil:
		return startMarks{}, err
	case m1.ps != m0.ps:
		return startMarks{}, errors.New("the meta pages disagree on the page size")
	}
	m := m0
	if m1.txid > m0.txid {
		m = m1
	}
	pages := uint64(l.size / int64(m.ps))
	if m.high < 2 || m.high > pages {
		return startMarks{}, fmt.Errorf("the meta page counts %d pages and the file holds %d", m.high, pages)
	}
	l.img = fileImage{ps: m.ps, high: m.high}
	if m.freelist != noFreelist {
		if err := l.freelist(m.freelist); err != nil {
			return startMarks{}, err
		}
	}
	flags, v, err := l.find(m.root, bucketMeta, 0)
	switch {
	case err != nil:
		return startMarks{}, err
	case v == nil:
		return startMarks{}, nil // a new file, or one without a meta bucket: Open sees to it
	case flags != bucketLeafFlag || len(v) < bucketHeaderSize:
		return startMarks{}, errors.New("the meta bucket's header is damaged")
	}
	get := func(key []byte) ([]byte, error) {
		root := binary.LittleEndian.Uint64(v)
		if root != 0 {
			_, val, err := l.find(root, key, 1)
			return val, err
		}
		var val []byte
		l.img.readElements("the inline page of the meta bucket", v[bucketHeaderSize:], true, nil, nil, len(v)-bucketHeaderSize, func(_ uint32, k, ev []byte, _ uint64) {
			if bytes.Equal(k, key) {
				val = ev
			}
		})
		return val, l.img.damage.err()
	}
	var marks startMarks
	stopped, err := get(keyStopped)
	if err != nil {
		return startMarks{}, err
	}
	marks.stopped = stopped != nil
	unchecked, err := get(keyUnchecked)
	if err != nil {
		return startMarks{}, err
	}
	if unchecked != nil {
		if marks.unchecked, err = strconv.Atoi(string(unchecked)); err != nil || marks.unchecked < 0 {
			return startMarks{}, fmt.Errorf("the count of unchecked starts %q does not read", unchecked)
		}
	}
	return marks, nil
}

// page reads page id with its overflow pages and checks its header.
func (l *looker) page(id uint64) ([]byte, uint16, error) {
	l.pages++
	if l.pages > maxLookPages {
		return nil, 0, fmt.Errorf("more than %d pages lie between the root and the meta bucket", maxLookPages)
	}
	if id < 2 || id >= l.img.high {
		return nil, 0, fmt.Errorf("a reference to page %d, outside pages 2 to %d", id, l.img.high-1)
	}
	ps := int64(l.img.ps)
	head := make([]byte, pageHeaderSize)
	if _, err := l.f.ReadAt(head, int64(id)*ps); err != nil {
		return nil, 0, fmt.Errorf("read page %d: %w", id, err)
	}
	le := binary.LittleEndian
	overflow := uint64(le.Uint32(head[12:]))
	switch {
	case le.Uint64(head) != id:
		return nil, 0, fmt.Errorf("page %d calls itself page %d", id, le.Uint64(head))
	case overflow >= l.img.high-id:
		return nil, 0, fmt.Errorf("page %d claims %d overflow pages, beyond the end", id, overflow)
	}
	buf := make([]byte, int64(overflow+1)*ps)
	if _, err := l.f.ReadAt(buf, int64(id)*ps); err != nil {
		return nil, 0, fmt.Errorf("read page %d: %w", id, err)
	}
	return buf, le.Uint16(head[8:]), nil
}

// find looks key up in the tree whose root is page id, checking every
// page on the way, and returns its flags and value (nil when the tree
// does not hold it).
func (l *looker) find(id uint64, key []byte, depth int) (uint32, []byte, error) {
	for ; ; depth++ {
		if depth > maxTreeDepth {
			return 0, nil, fmt.Errorf("page %d lies deeper than %d levels", id, maxTreeDepth)
		}
		buf, flags, err := l.page(id)
		if err != nil {
			return 0, nil, err
		}
		where := fmt.Sprintf("page %d", id)
		switch flags {
		case leafPageFlag:
			var (
				fl  uint32
				val []byte
			)
			l.img.readElements(where, buf, true, nil, nil, 0, func(f uint32, k, v []byte, _ uint64) {
				if bytes.Equal(k, key) {
					fl, val = f, v
				}
			})
			return fl, val, l.img.damage.err()
		case branchPageFlag:
			next := uint64(0)
			l.img.readElements(where, buf, false, nil, nil, 0, func(_ uint32, k, _ []byte, child uint64) {
				if next == 0 || bytes.Compare(k, key) <= 0 {
					next = child
				}
			})
			if err := l.img.damage.err(); err != nil {
				return 0, nil, err
			}
			if next == 0 {
				return 0, nil, fmt.Errorf("branch page %d has no elements", id)
			}
			id = next
		default:
			return 0, nil, fmt.Errorf("page %d, reached as a branch or leaf, has type %#x", id, flags)
		}
	}
}

// freelist checks the freelist page id, which bbolt reads at open: every
// page it names lies inside the file, below the high-water mark.
func (l *looker) freelist(id uint64) error {
	buf, flags, err := l.page(id)
	if err != nil {
		return err
	}
	if flags != freelistPageFlag {
		return fmt.Errorf("the freelist page %d has type %#x", id, flags)
	}
	le := binary.LittleEndian
	start, count := pageHeaderSize, uint64(le.Uint16(buf[10:]))
	if count == 0xFFFF {
		count = le.Uint64(buf[pageHeaderSize:])
		start += 8
	}
	if count > uint64(len(buf)-start)/8 {
		return fmt.Errorf("the freelist page %d counts %d pages, more than it can hold", id, count)
	}
	for i := range int(count) {
		if free := le.Uint64(buf[start+8*i:]); free < 2 || free >= l.img.high {
			return fmt.Errorf("the freelist names page %d, outside pages 2 to %d", free, l.img.high-1)
		}
	}
	return nil
}

// markOpen records in tx, the commit that opens the file, that a run has
// begun: no clean stop yet, and one more open since the last full check
// (none when checked is true: Open has just checked the file in full).
func markOpen(tx *bolt.Tx, marks startMarks, checked bool) error {
	meta := tx.Bucket(bucketMeta)
	if err := meta.Delete(keyStopped); err != nil {
		return err
	}
	n := marks.unchecked + 1
	if checked {
		n = 0
	}
	return meta.Put(keyUnchecked, []byte(strconv.Itoa(n)))
}

// Checked reports whether Open checked the file in full; when it did not,
// the caller should run Verify once it serves.
func (s *Store) Checked() bool { return s.checked }

// Interrupted reports whether the run before this Open ended without
// closing the store (a crash, a power cut, a kill): whatever it held in
// memory (Hold) was lost, and the caller may have to assume the worst of
// what that was. It is false for a new file and for a read-only store;
// true when the quick look could not tell.
func (s *Store) Interrupted() bool { return s.interrupted }

// Verify is the integrity check in full (as Check) of the store in use,
// made without holding up its commits: it checks the file inside one read
// transaction, which keeps every page of that transaction's tree as it
// is (bbolt writes new pages elsewhere while a reader holds them), the
// tree of that transaction alone, and decodes the records on one core, so
// that the other serves the register. A check that passes records it in
// the file (meta "unchecked" back to 0). One that fails returns the
// *CheckError and marks the store damaged: Close then leaves it marked as
// not stopped cleanly, so that the next Open checks it in full and
// salvages it (a store in use cannot be salvaged under its user).
//
// Where bbolt's map of the file has room to spare (inPlace), the check
// reads a map of the file of its own, and needs no memory in proportion
// to the file; elsewhere it copies the file into memory first, within
// the transaction, and checks the copy after.
//
// Like Check it cannot crash or hang on a damaged file, and it stops early
// when ctx ends.
func (s *Store) Verify(ctx context.Context) error {
	if s.readOnly {
		return ErrReadOnly
	}
	err := s.verifyFile(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, ErrCorrupt) {
		s.hmu.Lock()
		s.damaged = true
		s.hmu.Unlock()
		// Whatever stops this run, the next Open checks in full. (A
		// commit writes new pages only, so it cannot spread the damage.)
		s.update(markUnchecked)
		return err
	}
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyUnchecked, []byte("0"))
	})
}

// verifyMargin is the room Verify needs in bbolt's map beyond the
// high-water mark to check the file in place: the pages the commits made
// meanwhile may take (they cannot reuse pages freed after the check's
// transaction began). A payment's commits write tens of kilobytes.
const verifyMargin = 64 << 20

// verifyFile is the check of Verify.
//
// The read transaction holds bbolt's lock on its memory map for reading,
// and a commit that must map the file afresh to grow it (DB.mmap, when a
// new page lies beyond the map) takes that lock for writing: it would
// wait for the whole check, and every transaction begun after it with it.
// So the check is made in place only when the map has room for
// verifyMargin more bytes of pages (inPlace); then no commit during the
// check remaps. Otherwise the transaction is held only while the file is
// copied.
func (s *Store) verifyFile(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	// Two commits between the start of the read transaction and the
	// read of the meta pages overwrite both; the file is then read
	// again, a few times at most.
	for range 4 {
		var (
			copied []byte
			txid   uint64
			ok     bool
		)
		err := s.db.View(func(tx *bolt.Tx) error {
			txid = uint64(tx.ID())
			if !s.inPlace(tx) {
				var err error
				copied, err = s.copyFile()
				return err
			}
			data, unmap, err := mapFile(s.file)
			if err != nil {
				return fmt.Errorf("read the store %s: %w", s.path, err)
			}
			defer unmap()
			ok, err = checkData(ctx, data, s.path, false, 1, txid)
			return err
		})
		if err == nil && copied != nil {
			ok, err = checkData(ctx, copied, s.path, false, 1, txid)
		}
		if err != nil || ok {
			return err
		}
	}
	return fmt.Errorf("the store %s changed too fast to be read for its check; it is checked at the next start", s.path)
}

// inPlace reports whether bbolt's map of the file holds verifyMargin
// bytes beyond the high-water mark of tx, so that no commit remaps the
// file during a check that holds tx. s.mapped is a size bbolt's map has
// at least (its map only grows while the file is open); on Windows
// bbolt's file is exactly as large as its map (it sizes the file when it
// maps it, and the store's room is not preallocated there), and a read
// transaction keeps it from remapping, so the file's size is the map's.
func (s *Store) inPlace(tx *bolt.Tx) bool {
	mapped := s.mapped
	if runtime.GOOS == "windows" {
		fi, err := s.file.Stat()
		if err != nil {
			return false
		}
		mapped = fi.Size()
	}
	return mapped-tx.Size() >= verifyMargin
}

// copyFile reads the store's file into memory, within a read
// transaction: the meta pages first, before a commit or two can
// overwrite the one of the transaction, then the rest.
func (s *Store) copyFile() ([]byte, error) {
	head := make([]byte, 2*65536+pageHeaderSize+metaSize)
	n, err := s.file.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read the store %s: %w", s.path, err)
	}
	head = head[:n]
	data, err := readAll(s.file)
	if err != nil {
		return nil, fmt.Errorf("read the store %s: %w", s.path, err)
	}
	if len(data) >= len(head) {
		copy(data, head)
	}
	return data, nil
}

// closeMarks commits, at Close, every held step and the mark of a clean
// stop (none on a store Verify found damaged), in one transaction.
func (s *Store) closeMarks() error {
	s.hmu.Lock()
	damaged := s.damaged
	s.hmu.Unlock()
	var flushed map[string]*held
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if flushed, err = s.flushAll(tx); err != nil {
			return err
		}
		if damaged {
			return markUnchecked(tx)
		}
		return tx.Bucket(bucketMeta).Put(keyStopped, []byte(s.now().UTC().Format(time.RFC3339)))
	})
	if err == nil {
		for req, h := range flushed {
			s.dropHeld(req, h)
		}
	}
	return err
}

// markUnchecked records in tx that the file has not passed a full check,
// so that the next Open checks it in full whether or not the run stops
// cleanly.
func markUnchecked(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if n, err := strconv.Atoi(string(meta.Get(keyUnchecked))); err == nil && n > 0 {
		return nil
	}
	return meta.Put(keyUnchecked, []byte("1"))
}
