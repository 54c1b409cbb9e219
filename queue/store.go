package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// LockTimeout is how long Open waits for another process to release
	// the file before it gives up with ErrLocked. Zero means 2 s.
	LockTimeout time.Duration
	// Now is the clock for the times the store sets itself (acceptance
	// when none is given, audit times, salvage file names). Nil means
	// time.Now.
	Now func() time.Time
	// AuditLimit is the most audit events kept per payment; the oldest are
	// dropped and counted in Payment.AuditDropped. Zero means 64.
	AuditLimit int
	// ReadOnly opens the file for reading only, sharing it with other
	// readers; a corrupt file is then reported, not salvaged.
	ReadOnly bool
	// Quick makes Open of a writable store check the file in full only
	// when a quick look finds something wrong or the last run did not
	// stop cleanly before a full check passed (startup.go); the caller
	// then runs Verify while it serves. Without it, Open checks the file
	// in full every time.
	Quick bool
}

// Store is the durable payment store, one bbolt file. Every change is one
// bbolt transaction that is synced to disk before the method returns. Its
// methods are safe for concurrent use.
type Store struct {
	// mu guards db, file and ident, which Restore replaces: every
	// transaction runs under its read lock.
	mu sync.RWMutex
	db *bolt.DB
	// file is bbolt's own handle on the file, which Check reads through:
	// on Windows only the handle holding the lock may read the file.
	file *os.File
	// ident is the identity of the open file, compared with what is at
	// path before every write (see attached in file.go).
	ident      os.FileInfo
	path       string
	timeout    time.Duration
	room       room // the preallocated headroom (space.go)
	now        func() time.Time
	auditLimit int
	readOnly   bool
	report     *Report

	// checked is true when Open checked the file in full (startup.go).
	checked bool
	// interrupted is true when the run before this open did not close
	// the file (startup.go).
	interrupted bool
	// mapped is a size bbolt's memory map of the file has at least: the
	// map it was asked for at open (mapReserve), or 0 (Verify).
	mapped int64

	// hmu guards held, the steps kept in memory per payment (held.go),
	// and damaged, set when Verify found the file damaged.
	hmu     sync.Mutex
	held    map[string]*held
	damaged bool
}

const fileMode = 0o600

// Open opens the store at path, creating the file if it does not exist.
//
// A file held by another process gives ErrLocked after Options.LockTimeout.
// A file from a newer program gives ErrSchema. An existing file is checked
// (Check) before bbolt reads more of it than its meta pages (with
// Options.Quick, only when the quick look or the last run gives a reason
// to; see startup.go): a file that
// fails is replaced: every record that can still be read is copied into a
// fresh file, the damaged file is moved aside as "<path>.corrupt-<UTC
// time>", the fresh one takes its place, and Open returns it;
// Store.Report says what was and was not saved, and Store.Salvages keeps
// it. A file of an older schema is migrated. Other errors (permissions, a
// missing folder, a full disk) are returned as they are and leave the
// file alone.
//
// Neither the check nor the salvage lets bbolt read a damaged file, so
// damage cannot make Open crash or hang; both take time in proportion to
// the file's size. The check reads a read-only map of the file and needs
// little memory of its own whatever the file's size (Check); a salvage
// holds the file in memory once. A read-only Open checks
// less (checkReading: the structure, every record's checksum, and the
// accepted index), also through a read-only map of the file; Check runs
// the full check on demand.
func Open(path string, opts Options) (*Store, error) {
	s := &Store{path: path, now: opts.Now, auditLimit: opts.AuditLimit, readOnly: opts.ReadOnly, held: map[string]*held{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.auditLimit <= 0 {
		s.auditLimit = 64
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 2 * time.Second
	}
	s.timeout = opts.LockTimeout
	if !opts.ReadOnly {
		if err := finishSalvage(path); err != nil {
			return nil, err
		}
	}
	// The size the file had before bbolt opened it, for a salvage to keep
	// the damaged file as it was found (see Store.salvage).
	found := int64(-1)
	if fi, err := os.Stat(path); err == nil {
		found = fi.Size()
	}
	var err error
	if opts.ReadOnly {
		err = s.open(true, opts.LockTimeout)
	} else {
		// The file is checked in full only when the quick look finds
		// something wrong or the last run gives a reason to (startup.go).
		var marks startMarks
		if found > 0 {
			marks, err = quickLook(path)
			s.interrupted = !marks.stopped
			if err != nil || marks.needsCheck() || !opts.Quick {
				err = verify(path, opts.LockTimeout)
				s.checked = err == nil
			}
		} else {
			s.checked = true // nothing to check in a file bbolt creates
		}
		if err == nil {
			err = s.openMarked(marks)
		}
		if err == nil && found <= 0 {
			// bbolt created the file: its name is durable only once the
			// folder is synced, and every payment hangs on it.
			if err := syncDir(filepath.Dir(path)); err != nil {
				s.db.Close()
				return nil, fmt.Errorf("the store %s was created, but its folder could not be synced to make that last; check the folder: %w", path, err)
			}
		}
	}
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, ErrCorrupt) {
		return nil, err
	}
	if s.readOnly {
		return nil, fmt.Errorf("the store %s failed its integrity check (%w); start posagent to salvage it", path, err)
	}
	if err := s.salvage(err, found, opts.LockTimeout); err != nil {
		return nil, err
	}
	return s, nil
}

// verify checks the existing file at path under a shared lock, through a
// read-only bbolt handle, which reads nothing of the file but its meta
// pages. The lock is dropped before Open takes the exclusive one; a second
// posagent writing the file in between would have checked it itself.
func verify(path string, timeout time.Duration) error {
	db, file, err := openBolt(path, true, timeout)
	if err != nil {
		return err
	}
	defer db.Close()
	return checkFile(file, false)
}

// mapReserve is the memory map bbolt is asked for when it opens a store
// for writing on a 64-bit platform other than Windows: address space
// only (the map is of the file, shared and read-only, and pages of it
// come into memory only as they are read), so large that no store
// outgrows it, and bbolt then never maps the file afresh to grow it.
// That is what lets Verify hold a read transaction for as long as its
// check takes (verifyFile). On Windows bbolt makes the file as large as
// its map, and a 32-bit platform has not the address space to spare: the
// map there is what bbolt chooses itself (mapReserve 0).
var mapReserve = func() int {
	if strconv.IntSize < 64 || runtime.GOOS == "windows" {
		return 0
	}
	gib := 1 << 30 // not a constant: 64 GiB does not fit a 32-bit int
	return 64 * gib
}()

// growStep is how much a writable store's file grows beyond what a commit
// needs, when it must grow.
const growStep = 1 << 20

// openWritable opens the bbolt file at path for writing, as openBolt
// does, with a map of mapReserve bytes where it can be had, and returns
// the size the map has at least (0 when not known). A map that cannot
// be had (an address-space limit) is not an error: the file is opened
// with the map bbolt chooses.
func openWritable(path string, timeout time.Duration) (*bolt.DB, *os.File, int64, error) {
	if mapReserve > 0 {
		db, file, err := openBoltMap(path, false, timeout, mapReserve)
		if !errors.Is(err, syscall.ENOMEM) {
			return db, file, int64(mapReserve), err
		}
	}
	db, file, err := openBolt(path, false, timeout)
	return db, file, 0, err
}

// openMarked opens the bbolt file at s.path for writing, lays it out and
// migrates it, and records in the same commit that a run has begun
// (markOpen).
func (s *Store) openMarked(marks startMarks) error {
	db, file, mapped, err := openWritable(s.path, s.timeout)
	if err != nil {
		return err
	}
	err = guard(func() error {
		return db.Update(func(tx *bolt.Tx) error {
			if err := initLayout(tx); err != nil {
				return err
			}
			return markOpen(tx, marks, s.checked)
		})
	})
	if errors.Is(err, errPanic) {
		err = fmt.Errorf("open %s: %w: %w", s.path, ErrCorrupt, err)
	}
	if err != nil {
		db.Close()
		return err
	}
	return s.attach(db, file, mapped)
}

// open opens the bbolt file at s.path: a read-only store is checked in
// bounded memory (checkReading), a writable one (already checked in full
// by verify) is laid out and migrated.
func (s *Store) open(readOnly bool, timeout time.Duration) error {
	var (
		db     *bolt.DB
		file   *os.File
		mapped int64
		err    error
	)
	if readOnly {
		db, file, err = openBolt(s.path, true, timeout)
	} else {
		db, file, mapped, err = openWritable(s.path, timeout)
	}
	if err != nil {
		return err
	}
	if readOnly {
		err = checkReading(file)
	} else {
		err = db.Update(initLayout)
	}
	if err != nil {
		db.Close()
		return err
	}
	return s.attach(db, file, mapped)
}

// openBolt opens the bbolt file and sorts its failures into ErrLocked, the
// operating system's errors, and ErrCorrupt, and returns the handle bbolt
// opened the file with. bbolt can panic or fault on a damaged file; that
// is caught and reported as ErrCorrupt, and the lock and file handle it
// left behind are released. (Its memory map of the file cannot be, and
// stays until the process ends.)
func openBolt(path string, readOnly bool, timeout time.Duration) (db *bolt.DB, _ *os.File, err error) {
	return openBoltMap(path, readOnly, timeout, 0)
}

// openBoltMap is openBolt with bbolt's memory map at least mapSize
// bytes (0: the size of the file, as bbolt chooses).
func openBoltMap(path string, readOnly bool, timeout time.Duration, mapSize int) (db *bolt.DB, _ *os.File, err error) {
	var (
		mu   sync.Mutex
		file *os.File
	)
	bopts := &bolt.Options{
		Timeout:         timeout,
		ReadOnly:        readOnly,
		InitialMmapSize: mapSize,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			mu.Lock()
			file = f
			mu.Unlock()
			return f, err
		},
	}
	err = guard(func() error {
		var err error
		db, err = bolt.Open(path, fileMode, bopts)
		return err
	})
	switch {
	case err == nil:
		if mapSize > 0 && !readOnly {
			// bbolt grows a file whose map is larger than its AllocSize
			// by AllocSize (16 MiB) beyond what it needs: with the map
			// of mapReserve, every store would be 16 MiB and more from
			// its first commit, and a copy of it as large.
			db.AllocSize = growStep
		}
		mu.Lock()
		defer mu.Unlock()
		return db, file, nil
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, nil, fmt.Errorf("another posagent is using %s (the file stayed locked for %v); stop it or give this one another storage path: %w", path, timeout, ErrLocked)
	case errors.Is(err, errPanic):
		mu.Lock()
		if file != nil {
			unlockFile(file)
			file.Close()
		}
		mu.Unlock()
		return nil, nil, fmt.Errorf("open %s: %w: %w", path, ErrCorrupt, err)
	case damaged(err):
		return nil, nil, fmt.Errorf("open %s: %w: %w", path, ErrCorrupt, err)
	default:
		return nil, nil, fmt.Errorf("open store %s: %w", path, err)
	}
}

// damaged reports whether bbolt refused the file for its contents: broken
// meta pages, a foreign or unknown format, or a file cut shorter than its
// two meta pages (an error bbolt gives as text only). Any other failure,
// such as one of the operating system's or a memory map that does not fit,
// says nothing about the file and must not make Open replace it.
func damaged(err error) bool {
	return errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrChecksum) ||
		errors.Is(err, bolterrors.ErrVersionMismatch) || strings.HasPrefix(err.Error(), "file size too small")
}

// errPanic marks a panic or memory fault caught while reading the file.
var errPanic = errors.New("panic while reading the file")

// guard runs fn, turning a panic, and a memory fault in the mapped file
// (which the runtime would otherwise treat as fatal), into an error.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errPanic, r)
		}
	}()
	return fn()
}

// Path returns the file the store is kept in.
func (s *Store) Path() string { return s.path }

// Report returns what Open salvaged from a corrupt file, or nil when the
// file passed its integrity check.
func (s *Store) Report() *Report { return s.report }

// Close commits the steps held in memory (Hold), marks the file as
// stopped cleanly (unless Verify found it damaged), and closes it. A store
// that cannot write any more is closed all the same: it is then not
// marked, and the next Open looks at it as after a crash.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.readOnly && s.attached() == nil {
		s.closeMarks() // a failure leaves the file marked as not stopped cleanly
	}
	return s.db.Close()
}

// view runs fn in one read transaction.
func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.View(fn)
}

// update runs fn in one write transaction, committed and synced before it
// returns. A read-only store refuses, and so does one whose file is no
// longer the one at its path (ErrDetached): a change written into a file
// that was removed or replaced would be lost when the program ends.
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	return s.writing(func() error { return s.db.Update(fn) })
}

// writing runs fn, which writes to the file, unless the store is read-only
// (ErrReadOnly) or its file is no longer the one at its path (ErrDetached);
// the file is not swapped while fn runs.
func (s *Store) writing(fn func() error) error {
	if s.readOnly {
		return ErrReadOnly
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.attached(); err != nil {
		return err
	}
	return fn()
}
