package queue

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Place says what is at a store's path compared with the file the store
// has open.
type Place int

const (
	// InPlace: the path names the open file.
	InPlace Place = iota
	// Removed: nothing is at the path; the open file lives on only as long
	// as the store keeps it open.
	Removed
	// Replaced: another file is at the path (moved or copied over it).
	Replaced
)

func (p Place) String() string {
	switch p {
	case InPlace:
		return "in place"
	case Removed:
		return "removed"
	case Replaced:
		return "replaced"
	}
	return fmt.Sprintf("Place(%d)", int(p))
}

// Place reports whether the store's file is still the one at its path. A
// file removed or replaced while the store is open keeps every payment
// written so far (the store holds it open), but whatever is written into it
// is lost when the store closes; the store refuses to write meanwhile
// (ErrDetached). Restore puts a removed file back; a replaced one needs a
// person (see docs/design.md, "Storage faults").
func (s *Store) Place() (Place, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.placeLocked()
}

func (s *Store) placeLocked() (Place, error) {
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Removed, nil
	case err != nil:
		return InPlace, fmt.Errorf("cannot look at the store file %s: %w", s.path, err)
	case os.SameFile(fi, s.ident):
		return InPlace, nil
	}
	return Replaced, nil
}

// attached returns ErrDetached, with what happened, when the file at the
// path is not the open one; nil when it is or when the path cannot be
// looked at (the write then fails or succeeds on its own).
func (s *Store) attached() error {
	switch place, _ := s.placeLocked(); place {
	case Removed:
		return fmt.Errorf("the store file %s was removed while posagent had it open: %w", s.path, ErrDetached)
	case Replaced:
		return fmt.Errorf("the store file %s was replaced by another file while posagent had it open: %w", s.path, ErrDetached)
	}
	return nil
}

// attach makes db, opened with file and a map of at least mapped bytes
// (0: not known), the store's database. The caller holds s.mu or is
// Open.
func (s *Store) attach(db *bolt.DB, file *os.File, mapped int64) error {
	fi, err := file.Stat()
	if err != nil {
		db.Close()
		return fmt.Errorf("cannot read what the store file %s is: %w", s.path, err)
	}
	s.db, s.file, s.ident, s.mapped = db, file, fi, mapped
	s.room.upTo.Store(0)
	s.room.unsupported = false
	return nil
}

// Restore writes the open database back to the store's path after its file
// was removed, and carries on with the file written: nothing committed is
// lost. It does nothing when the file is in place, and refuses
// (ErrDetached) when another file took its place: that file may matter to
// whoever put it there, and only a person can say.
//
// The copy is written beside the path, synced, and linked to the path
// (which fails rather than overwrite a file that appeared meanwhile); the
// folder is synced before the store switches to it.
func (s *Store) Restore() error {
	if s.readOnly {
		return ErrReadOnly
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch place, err := s.placeLocked(); {
	case err != nil:
		return err
	case place == InPlace:
		return nil
	case place == Replaced:
		return s.attached()
	}
	tmp := s.path + ".restore"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot remove the leftover %s to write the store back: %w", tmp, err)
	}
	if err := s.copyLocked(tmp); err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, s.path); err != nil {
		return fmt.Errorf("cannot put the store back at %s: %w", s.path, err)
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return fmt.Errorf("the store was written back to %s, but its folder could not be synced: %w", s.path, err)
	}
	db, file, mapped, err := openWritable(s.path, s.timeout)
	if err != nil {
		return fmt.Errorf("the store was written back to %s, but it does not open; restart posagent: %w", s.path, err)
	}
	old := s.db
	if err := s.attach(db, file, mapped); err != nil {
		return err
	}
	old.Close()
	return nil
}

// SaveCopy writes the open database, as committed, to a new file at path,
// synced together with its folder. It refuses to overwrite a file.
func (s *Store) SaveCopy(path string) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.copyLocked(path)
}

func (s *Store) copyLocked(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return fmt.Errorf("cannot create %s for a copy of the store: %w", path, err)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(f)
		return err
	})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("cannot write a copy of the store to %s: %w", path, err)
	}
	return nil
}

// Probe commits an empty transaction, which bbolt still writes and syncs:
// it reports whether the store can commit now, after a failure.
func (s *Store) Probe() error {
	return s.update(func(*bolt.Tx) error { return nil })
}
