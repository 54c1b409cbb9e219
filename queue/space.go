package queue

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// Space is the state of the file system the store is on.
type Space struct {
	// Free is how many bytes the program may still write there.
	Free uint64
	// ReadOnly is set when the file system is mounted read-only.
	ReadOnly bool
}

// Space reports the free space and the mount flags of the file system the
// store's folder is on, where the platform tells them.
func (s *Store) Space() (Space, error) {
	sp, err := diskSpace(filepath.Dir(s.path))
	if err != nil {
		return Space{}, fmt.Errorf("cannot read the free space of the folder of %s: %w", s.path, err)
	}
	return sp, nil
}

// room is what the store knows of its headroom. It is changed only inside
// a write transaction, which holds bbolt's writer lock, and reset by
// attach; upTo is read outside one too (reserve's first look), hence
// atomic.
type room struct {
	// upTo: the file is allocated on disk up to this offset.
	upTo atomic.Int64
	// unsupported: the file system cannot preallocate; free space is
	// read instead.
	unsupported bool
}

// Reserve makes room for n more bytes of pages beyond those the store uses
// now, so that later commits need no free space on the file system: the
// file is extended and allocated on disk past bbolt's high-water mark
// (fallocate on Linux), and bbolt writes its new pages into that room
// before it grows the file again. It returns ErrNoRoom when the file system
// has not the room. Where the file system cannot preallocate (Windows,
// where bbolt's file is as large as its memory map and fully allocated;
// some network and FUSE file systems), Reserve checks instead that the
// free space covers the part of the n bytes beyond the file's size.
//
// The store's writes are paused while Reserve runs.
func (s *Store) Reserve(n int64) error {
	return s.writing(func() error { return s.reserve(n) })
}

// reserve is Reserve, the store locked.
func (s *Store) reserve(n int64) error {
	// Most calls find the room made already. A read transaction tells the
	// size the store uses, which is cheaper than a write transaction (whose
	// rollback reloads bbolt's free list); a commit that grows the store
	// after this look uses the room as it would after any Reserve.
	var used int64
	if err := s.db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil }); err == nil && used+n <= s.room.upTo.Load() {
		return nil
	}
	// A write transaction, rolled back, writes nothing: it only holds
	// bbolt's writer lock so that no commit moves the high-water mark
	// while the room is measured and made.
	tx, err := s.db.Begin(true)
	if err != nil {
		return fmt.Errorf("cannot reserve room in the store %s: %w", s.path, err)
	}
	defer tx.Rollback()
	want := tx.Size() + n
	if want <= s.room.upTo.Load() {
		return nil
	}
	if !s.room.unsupported {
		// Twice what is asked where there is room, so that not every
		// commit has to reserve more.
		for _, size := range []int64{want + n, want} {
			if err = preallocate(s.file, size); err == nil {
				s.room.upTo.Store(size)
				return nil
			}
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			return fmt.Errorf("cannot reserve %d bytes for the store %s: %w: %w", n, s.path, ErrNoRoom, err)
		}
		s.room.unsupported = true
	}
	fi, err := s.file.Stat()
	if err != nil {
		return fmt.Errorf("cannot read the size of the store %s: %w", s.path, err)
	}
	need := want - fi.Size()
	if need <= 0 {
		return nil
	}
	sp, err := diskSpace(filepath.Dir(s.path))
	if err != nil {
		return nil // nothing tells: the commits will say
	}
	if sp.Free < uint64(need) {
		return fmt.Errorf("the file system of the store %s has %d bytes free, %d are needed: %w", s.path, sp.Free, need, ErrNoRoom)
	}
	return nil
}
