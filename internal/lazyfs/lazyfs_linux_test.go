//go:build linux && (amd64 || arm64)

package lazyfs

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// mountLazy mounts a lazyfs over a fresh backing folder, or skips the test
// where FUSE cannot be mounted.
func mountLazy(t *testing.T) *Mount {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("lazyfs cannot run here: %v", err)
	}
	m, err := New(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return m
}

func (m *Mount) path(name string) string { return filepath.Join(m.Dir(), name) }

// syncDir fsyncs the mounted folder.
func syncDir(t *testing.T, m *Mount) {
	t.Helper()
	d, err := os.Open(m.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
}

// writeFile writes data to name at off, creating it, and syncs the file
// when sync is set.
func writeFile(t *testing.T, m *Mount, name string, data []byte, off int64, sync bool) {
	t.Helper()
	f, err := os.OpenFile(m.path(name), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

// durableFile creates name holding data and makes file and name durable.
func durableFile(t *testing.T, m *Mount, name string, data []byte) {
	t.Helper()
	writeFile(t, m, name, data, 0, true)
	syncDir(t, m)
}

func cut(t *testing.T, m *Mount) {
	t.Helper()
	if err := m.Cut(); err != nil {
		t.Fatal(err)
	}
}

// contents returns what name holds on the mount, or nil when it is missing.
func contents(t *testing.T, m *Mount, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(m.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestFileWrites(t *testing.T) {
	old := bytes.Repeat([]byte("o"), 3*pageSize+100)
	page := bytes.Repeat([]byte("n"), pageSize)
	with := func(data []byte, off int, over []byte) []byte {
		out := slices.Clone(data)
		if n := off + len(over); n > len(out) {
			out = append(out, make([]byte, n-len(out))...)
		}
		copy(out[off:], over)
		return out
	}
	tests := []struct {
		name  string
		write func(t *testing.T, m *Mount)
		want  []byte // after the cut
	}{
		{"a write without fsync is lost", func(t *testing.T, m *Mount) {
			writeFile(t, m, "f", page, 100, false)
		}, old},
		{"a write with fsync is kept", func(t *testing.T, m *Mount) {
			writeFile(t, m, "f", page, 100, true)
		}, with(old, 100, page)},
		{"a write past the end without fsync is lost", func(t *testing.T, m *Mount) {
			writeFile(t, m, "f", page, int64(len(old)+5000), false)
		}, old},
		{"a write past the end with fsync is kept, the gap zero", func(t *testing.T, m *Mount) {
			writeFile(t, m, "f", page, int64(len(old)+5000), true)
		}, with(old, len(old)+5000, page)},
		{"only the writes before the fsync are kept", func(t *testing.T, m *Mount) {
			writeFile(t, m, "f", page, 0, true)
			writeFile(t, m, "f", []byte("late"), 2*pageSize, false)
		}, with(old, 0, page)},
		{"a truncation without fsync is undone", func(t *testing.T, m *Mount) {
			if err := os.Truncate(m.path("f"), 10); err != nil {
				t.Fatal(err)
			}
		}, old},
		{"a truncation with fsync is kept", func(t *testing.T, m *Mount) {
			if err := os.Truncate(m.path("f"), 10); err != nil {
				t.Fatal(err)
			}
			writeFile(t, m, "f", nil, 0, true)
		}, old[:10]},
		{"a truncation and regrowth reads zeros", func(t *testing.T, m *Mount) {
			if err := os.Truncate(m.path("f"), 10); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(m.path("f"), int64(len(old))); err != nil {
				t.Fatal(err)
			}
			writeFile(t, m, "f", []byte("x"), 2*pageSize, true)
		}, with(with(old[:10], len(old)-1, []byte{0}), 2*pageSize, []byte("x"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mountLazy(t)
			durableFile(t, m, "f", old)
			tc.write(t, m)
			cut(t, m)
			if got := contents(t, m, "f"); !bytes.Equal(got, tc.want) {
				t.Errorf("after the cut the file holds %d bytes %q..., want %d bytes %q...", len(got), head(got), len(tc.want), head(tc.want))
			}
			backing, err := os.ReadFile(filepath.Join(m.Backing(), "f"))
			if err != nil || !bytes.Equal(backing, tc.want) {
				t.Errorf("the backing file holds %d bytes (%v), want what the mount shows", len(backing), err)
			}
		})
	}
}

func head(b []byte) []byte { return b[:min(len(b), 16)] }

func TestNamespaceChanges(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, m *Mount)
		want   map[string]string // the files after the cut
	}{
		{"a create without a folder fsync is lost, though the file was synced", func(t *testing.T, m *Mount) {
			writeFile(t, m, "new", []byte("new"), 0, true)
		}, map[string]string{"a": "A", "b": "B"}},
		{"a create with a folder fsync is kept, with the data synced before", func(t *testing.T, m *Mount) {
			writeFile(t, m, "new", []byte("new"), 0, true)
			writeFile(t, m, "new", []byte("!"), 3, false)
			syncDir(t, m)
		}, map[string]string{"a": "A", "b": "B", "new": "new"}},
		{"a create whose data was synced after the folder is kept", func(t *testing.T, m *Mount) {
			writeFile(t, m, "new", nil, 0, false)
			syncDir(t, m)
			writeFile(t, m, "new", []byte("new"), 0, true)
		}, map[string]string{"a": "A", "b": "B", "new": "new"}},
		{"a rename without a folder fsync is undone", func(t *testing.T, m *Mount) {
			rename(t, m, "a", "c")
		}, map[string]string{"a": "A", "b": "B"}},
		{"a rename with a folder fsync is kept", func(t *testing.T, m *Mount) {
			rename(t, m, "a", "c")
			syncDir(t, m)
		}, map[string]string{"c": "A", "b": "B"}},
		{"a rename over a file without a folder fsync is undone", func(t *testing.T, m *Mount) {
			rename(t, m, "a", "b")
		}, map[string]string{"a": "A", "b": "B"}},
		{"a rename over a file with a folder fsync is kept", func(t *testing.T, m *Mount) {
			rename(t, m, "a", "b")
			syncDir(t, m)
		}, map[string]string{"b": "A"}},
		{"an unlink without a folder fsync is undone", func(t *testing.T, m *Mount) {
			remove(t, m, "a")
		}, map[string]string{"a": "A", "b": "B"}},
		{"an unlink with a folder fsync is kept", func(t *testing.T, m *Mount) {
			remove(t, m, "a")
			syncDir(t, m)
		}, map[string]string{"b": "B"}},
		{"a new file renamed into place, synced, with a folder fsync, replaces the old", func(t *testing.T, m *Mount) {
			writeFile(t, m, "a.tmp", []byte("A2"), 0, true)
			rename(t, m, "a", "a.old")
			rename(t, m, "a.tmp", "a")
			syncDir(t, m)
		}, map[string]string{"a": "A2", "a.old": "A", "b": "B"}},
		{"a new file renamed into place without a folder fsync leaves the old", func(t *testing.T, m *Mount) {
			writeFile(t, m, "a.tmp", []byte("A2"), 0, true)
			rename(t, m, "a", "a.old")
			rename(t, m, "a.tmp", "a")
			writeFile(t, m, "a", []byte("3"), 1, true)
		}, map[string]string{"a": "A", "b": "B"}},
		{"a synced write to a file renamed without a folder fsync is kept under its old name", func(t *testing.T, m *Mount) {
			rename(t, m, "a", "c")
			writeFile(t, m, "c", []byte("Z"), 0, true)
		}, map[string]string{"a": "Z", "b": "B"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mountLazy(t)
			durableFile(t, m, "a", []byte("A"))
			durableFile(t, m, "b", []byte("B"))
			tc.change(t, m)
			cut(t, m)
			got := map[string]string{}
			entries, err := os.ReadDir(m.Dir())
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				got[e.Name()] = string(contents(t, m, e.Name()))
			}
			if !maps(got, tc.want) {
				t.Errorf("after the cut the folder holds %v, want %v", got, tc.want)
			}
		})
	}
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func rename(t *testing.T, m *Mount, from, to string) {
	t.Helper()
	if err := os.Rename(m.path(from), m.path(to)); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, m *Mount, name string) {
	t.Helper()
	if err := os.Remove(m.path(name)); err != nil {
		t.Fatal(err)
	}
}

func TestSyncMakesEverythingDurable(t *testing.T) {
	m := mountLazy(t)
	writeFile(t, m, "a", []byte("A"), 0, false)
	if err := m.Sync(); err != nil {
		t.Fatal(err)
	}
	cut(t, m)
	if got := string(contents(t, m, "a")); got != "A" {
		t.Errorf("after Sync and a cut the file holds %q, want %q", got, "A")
	}
}

func TestAnUnlinkedFileStaysReadableWhileOpen(t *testing.T) {
	m := mountLazy(t)
	durableFile(t, m, "a", []byte("durable"))
	f, err := os.Open(m.path("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	remove(t, m, "a")
	syncDir(t, m)
	buf := make([]byte, 16)
	n, err := f.ReadAt(buf, 0)
	if string(buf[:n]) != "durable" {
		t.Errorf("the open, unlinked file reads %q (%v), want %q", buf[:n], err, "durable")
	}
}

// inChild runs the test named by t again in a new process, with env, and
// fails t when it fails. Whatever maps a file of the mount must run in
// another process than the file system's server: a page fault on the map
// holds the process's memory-map lock while it waits for the server, and
// the server's threads may need that lock to allocate memory.
func inChild(t *testing.T, env ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the child process failed: %v\n%s", err, out)
	}
}

// childEnv names the variable that holds, in a child process, the mounted
// folder to work in.
const childEnv = "LAZYFS_TEST_DIR"

// TestMappedReadsSeeUnsyncedWrites reads through a shared memory map, as
// bbolt does, what was written with pwrite and not synced.
func TestMappedReadsSeeUnsyncedWrites(t *testing.T) {
	if dir := os.Getenv(childEnv); dir != "" {
		mapAndWrite(t, filepath.Join(dir, "f"))
		return
	}
	m := mountLazy(t)
	durableFile(t, m, "f", make([]byte, 4*pageSize))
	inChild(t, childEnv+"="+m.Dir())
}

func mapAndWrite(t *testing.T, path string) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mapped, err := syscall.Mmap(int(f.Fd()), 0, 4*pageSize, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mapped)
	_ = mapped[pageSize] // fault the page in before the write
	for i, off := range []int{pageSize + 10, 3 * pageSize} {
		text := fmt.Sprintf("unsynced %d", i)
		if _, err := f.WriteAt([]byte(text), int64(off)); err != nil {
			t.Fatal(err)
		}
		if got := string(mapped[off : off+len(text)]); got != text {
			t.Errorf("the map reads %q, want the write %q", got, text)
		}
	}
}

// TestBboltOnTheMount opens, updates, closes and reopens a bbolt file on
// the mount, and keeps its commits through a cut once the folder holding
// the new file was synced.
func TestBboltOnTheMount(t *testing.T) {
	if dir := os.Getenv(childEnv); dir != "" {
		useBbolt(t, filepath.Join(dir, "bolt.db"), os.Getenv("LAZYFS_TEST_PHASE"))
		return
	}
	m := mountLazy(t)
	inChild(t, childEnv+"="+m.Dir(), "LAZYFS_TEST_PHASE=write")
	cut(t, m)
	inChild(t, childEnv+"="+m.Dir(), "LAZYFS_TEST_PHASE=after the cut")
}

// useBbolt writes to the bbolt file at path in phase "write", and checks
// what it wrote otherwise.
func useBbolt(t *testing.T, path, phase string) {
	put := func(db *bolt.DB, k, v string) {
		t.Helper()
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return b.Put([]byte(k), []byte(v))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	get := func(db *bolt.DB, k string) (v string) {
		t.Helper()
		db.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket([]byte("b")); b != nil {
				v = string(b.Get([]byte(k)))
			}
			return nil
		})
		return v
	}
	open := func() *bolt.DB {
		t.Helper()
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	if phase == "write" {
		d, err := os.Open(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Sync(); err != nil { // bbolt does not sync the folder of a file it creates
			t.Fatal(err)
		}
		d.Close()
		big := string(bytes.Repeat([]byte("v"), 3*pageSize))
		for i := range 200 {
			put(db, fmt.Sprintf("k%03d", i), big[:i*50])
		}
		db.Close()
		db = open()
		if got := get(db, "k181"); len(got) != 181*50 {
			t.Errorf("after a reopen k181 holds %d bytes, want %d", len(got), 181*50)
		}
		put(db, "last", "kept")
		db.Close()
		return
	}
	defer db.Close()
	if got := get(db, "last"); got != "kept" {
		t.Errorf("%s the last commit reads %q, want %q", phase, got, "kept")
	}
	if got := get(db, "k199"); len(got) != 199*50 {
		t.Errorf("%s k199 holds %d bytes, want %d", phase, len(got), 199*50)
	}
	if err := db.View(func(tx *bolt.Tx) (first error) {
		for err := range tx.Check() {
			first = cmp.Or(first, err)
		}
		return first
	}); err != nil {
		t.Errorf("bbolt's check %s: %v", phase, err)
	}
}

func TestReadOnlyRefusesChangesAndKeepsContents(t *testing.T) {
	m := mountLazy(t)
	writeFile(t, m, "a", []byte("before"), 0, true)
	m.SetReadOnly(true)
	f, err := os.OpenFile(m.path("a"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("after!"), 0); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("write while read-only = %v; want EROFS", err)
	}
	if err := f.Sync(); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("fsync while read-only = %v; want EROFS", err)
	}
	for _, change := range []func() error{
		func() error { return os.WriteFile(m.path("b"), nil, 0o600) },
		func() error { return os.Rename(m.path("a"), m.path("c")) },
		func() error { return os.Remove(m.path("a")) },
		func() error { return f.Truncate(0) },
	} {
		if err := change(); !errors.Is(err, syscall.EROFS) {
			t.Fatalf("change while read-only = %v; want EROFS", err)
		}
	}
	if b, err := os.ReadFile(m.path("a")); err != nil || string(b) != "before" {
		t.Fatalf("read while read-only = %q, %v", b, err)
	}
	m.SetReadOnly(false)
	if _, err := f.WriteAt([]byte("after!"), 0); err != nil {
		t.Fatalf("write once read-write again: %v", err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(m.Dir(), &st); err != nil || st.Blocks == 0 || st.Bavail == 0 {
		t.Fatalf("statfs of the mount = %+v, %v; want the backing file system's sizes", st, err)
	}
}
