//go:build linux && (amd64 || arm64)

package lazyfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// pageSize is the unit in which unsynced writes are kept.
const pageSize = 4096

// Mount is a lazyfs file system mounted over a folder.
type Mount struct {
	backing, dir string

	mu     sync.Mutex // guards server and state across Cut
	server *fuse.Server
	state  *state
}

// New mounts a lazyfs at dir that passes through to the folder backing,
// whose files it shows. Both folders must exist. It fails where FUSE cannot
// be mounted (no /dev/fuse, not root); Available says why beforehand.
func New(backing, dir string) (*Mount, error) {
	m := &Mount{backing: backing, dir: dir}
	if err := m.mount(); err != nil {
		return nil, err
	}
	return m, nil
}

// Available returns nil when this process can mount a lazyfs, or an error
// saying why not.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("mounting a FUSE file system without fusermount needs root")
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("no usable /dev/fuse: %w", err)
	}
	f.Close()
	return nil
}

// SetReadOnly makes every change to the file system (writes, syncs,
// truncations, creates, renames, unlinks) fail with EROFS while ro is set,
// as a file system the kernel turned read-only does; what was written
// before stays as it was. It simulates a read-only remount, which Linux
// refuses while a program holds a file open for writing.
func (m *Mount) SetReadOnly(ro bool) {
	m.mu.Lock()
	st := m.state
	m.mu.Unlock()
	st.mu.Lock()
	st.ro = ro
	st.mu.Unlock()
}

// Dir returns the folder the file system is mounted on.
func (m *Mount) Dir() string { return m.dir }

// Backing returns the folder that holds what is durable.
func (m *Mount) Backing() string { return m.backing }

func (m *Mount) mount() error {
	st, err := load(m.backing)
	if err != nil {
		return err
	}
	// The kernel may cache names and attributes: every change goes through
	// this mount, so its caches never go stale, and Cut unmounts.
	timeout := time.Second
	server, err := fs.Mount(m.dir, st.root, &fs.Options{
		EntryTimeout: &timeout,
		AttrTimeout:  &timeout,
		MountOptions: fuse.MountOptions{
			FsName:            m.backing,
			Name:              "lazyfs",
			DirectMountStrict: true,
			// Root may use it however the backing folder's modes read.
			AllowOther: true,
		},
	})
	if err != nil {
		st.close()
		return fmt.Errorf("mount lazyfs on %s: %w", m.dir, err)
	}
	m.server, m.state = server, st
	return nil
}

// Cut simulates a power cut: it drops every write, create, rename and
// unlink not made durable, unmounts, and mounts the backing folder again.
// Every file open on the mount must have been closed (the processes using
// it killed); a file still open makes Cut fail.
func (m *Mount) Cut() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state.kill()
	if err := m.server.Unmount(); err != nil {
		return fmt.Errorf("unmount lazyfs at %s for a power cut (is a file still open on it?): %w", m.dir, err)
	}
	return m.mount()
}

// Sync makes everything durable, as sync(2) does.
func (m *Mount) Sync() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.syncAll()
}

// Unmount syncs nothing and unmounts: what was not durable is lost.
func (m *Mount) Unmount() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state.kill()
	return m.server.Unmount()
}

// state is one mount's view of the backing folder: the namespace changes
// and file writes not yet durable. One lock guards all of it.
type state struct {
	backing string
	root    *dir

	mu      sync.Mutex
	dead    bool      // cut off: every operation fails, nothing reaches the backing folder
	ro      bool      // read-only: every change fails with EROFS (SetReadOnly)
	pending []nameOp  // namespace changes not yet durable, oldest first
	files   []*file   // every file node, for syncAll and close
	loaded  []loadEnt // the backing folder's files, added at mount
}

type loadEnt struct {
	name string
	f    *file
}

// nameOp is one create, unlink or rename the view has and the backing
// folder does not yet.
type nameOp struct {
	kind     opKind
	name     string // the created or unlinked name, or the rename's source
	to       string // a rename's destination
	f        *file  // the file created, unlinked or renamed
	replaced *file  // the file a rename replaced, if any
}

type opKind int

const (
	opCreate opKind = iota
	opUnlink
	opRename
)

func load(backing string) (*state, error) {
	st := &state{backing: backing}
	st.root = &dir{st: st}
	entries, err := os.ReadDir(backing)
	if err != nil {
		return nil, fmt.Errorf("read the backing folder of lazyfs: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			st.close()
			return nil, fmt.Errorf("lazyfs holds regular files only, and %s is not one", filepath.Join(backing, e.Name()))
		}
		bf, err := os.OpenFile(filepath.Join(backing, e.Name()), os.O_RDWR, 0)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("open the backing file: %w", err)
		}
		fi, err := bf.Stat()
		if err != nil {
			bf.Close()
			st.close()
			return nil, err
		}
		f := &file{st: st, bf: bf, durSize: fi.Size(), size: fi.Size(), low: fi.Size(), mode: uint32(fi.Mode().Perm()), mtime: fi.ModTime()}
		st.files = append(st.files, f)
		st.loaded = append(st.loaded, loadEnt{e.Name(), f})
	}
	return st, nil
}

// kill cuts the state off from the backing folder.
func (st *state) kill() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.dead = true
	st.closeLocked()
}

func (st *state) close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closeLocked()
}

func (st *state) closeLocked() {
	for _, f := range st.files {
		if f.bf != nil {
			f.bf.Close()
			f.bf = nil
		}
	}
}

// syncAll makes every file's writes and then every namespace change durable.
func (st *state) syncAll() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dead {
		return errors.New("lazyfs: the file system was cut off")
	}
	for _, f := range st.files {
		if err := f.syncLocked(); err != nil {
			return err
		}
	}
	return st.commitLocked()
}

// commitLocked applies the pending namespace changes to the backing folder
// in the order they were made, which leaves it with the names the mount
// shows.
func (st *state) commitLocked() error {
	for len(st.pending) > 0 {
		op := st.pending[0]
		var err error
		switch op.kind {
		case opCreate:
			err = op.f.nameLocked(filepath.Join(st.backing, op.name))
		case opUnlink:
			if err = op.f.unnameLocked(); err == nil {
				err = os.Remove(filepath.Join(st.backing, op.name))
			}
		case opRename:
			if op.replaced != nil {
				err = op.replaced.unnameLocked()
			}
			if err == nil {
				err = os.Rename(filepath.Join(st.backing, op.name), filepath.Join(st.backing, op.to))
			}
		}
		if err != nil {
			return fmt.Errorf("lazyfs: apply a change of names to the backing folder: %w", err)
		}
		st.pending = st.pending[1:]
	}
	return nil
}

// dir is the one folder of the file system.
type dir struct {
	fs.Inode
	st *state
}

var (
	_ fs.NodeOnAdder   = (*dir)(nil)
	_ fs.NodeGetattrer = (*dir)(nil)
	_ fs.NodeCreater   = (*dir)(nil)
	_ fs.NodeUnlinker  = (*dir)(nil)
	_ fs.NodeRenamer   = (*dir)(nil)
	_ fs.NodeFsyncer   = (*dir)(nil)
	_ fs.NodeStatfser  = (*dir)(nil)
)

// Statfs reports the backing folder's file system.
func (d *dir) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.st.backing, &st); err != nil {
		return fs.ToErrno(err)
	}
	out.FromStatfsT(&st)
	return fs.OK
}

func (d *dir) OnAdd(ctx context.Context) {
	for _, e := range d.st.loaded {
		d.AddChild(e.name, d.NewPersistentInode(ctx, e.f, fs.StableAttr{Mode: fuse.S_IFREG}), false)
	}
	d.st.loaded = nil
}

func (d *dir) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = fuse.S_IFDIR | 0o755
	out.Nlink = 2
	return fs.OK
}

func (d *dir) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	st := d.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dead {
		return nil, nil, 0, syscall.EIO
	}
	if st.ro {
		return nil, nil, 0, syscall.EROFS
	}
	f := &file{st: st, mode: mode & 0o7777, mtime: time.Now()}
	st.files = append(st.files, f)
	st.pending = append(st.pending, nameOp{kind: opCreate, name: name, f: f})
	f.attrLocked(&out.Attr)
	return d.NewPersistentInode(ctx, f, fs.StableAttr{Mode: fuse.S_IFREG}), nil, 0, fs.OK
}

func (d *dir) Unlink(ctx context.Context, name string) syscall.Errno {
	ch := d.GetChild(name)
	if ch == nil {
		return syscall.ENOENT
	}
	f, ok := ch.Operations().(*file)
	if !ok {
		return syscall.EISDIR
	}
	st := d.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dead {
		return syscall.EIO
	}
	if st.ro {
		return syscall.EROFS
	}
	st.pending = append(st.pending, nameOp{kind: opUnlink, name: name, f: f})
	return fs.OK
}

func (d *dir) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if newParent.EmbeddedInode() != d.EmbeddedInode() {
		return syscall.EXDEV
	}
	if flags != 0 {
		return syscall.EINVAL
	}
	ch := d.GetChild(name)
	if ch == nil {
		return syscall.ENOENT
	}
	f := ch.Operations().(*file)
	var replaced *file
	if old := d.GetChild(newName); old != nil {
		if old == ch {
			return fs.OK
		}
		replaced = old.Operations().(*file)
	}
	st := d.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dead {
		return syscall.EIO
	}
	if st.ro {
		return syscall.EROFS
	}
	st.pending = append(st.pending, nameOp{kind: opRename, name: name, to: newName, f: f, replaced: replaced})
	return fs.OK
}

// Fsync of the folder makes every create, rename and unlink durable.
func (d *dir) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	st := d.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dead {
		return syscall.EIO
	}
	if st.ro {
		return syscall.EROFS
	}
	if err := st.commitLocked(); err != nil {
		return fs.ToErrno(err)
	}
	return fs.OK
}

// file is a regular file: its durable contents (a backing file, or memory
// while it has no durable name) and the writes laid over them.
type file struct {
	fs.Inode
	st *state

	// bf is the backing file holding the durable contents, nil while the
	// file has no durable name; mem holds them then.
	bf  *os.File
	mem []byte
	// durSize is the size of the durable contents, size the size the mount
	// shows, and low the smallest size since the last sync: durable bytes
	// at or past low were cut off and read as zeros.
	durSize, size, low int64
	// dirty holds every page written since the last sync, in full.
	dirty map[int64][]byte
	mode  uint32
	mtime time.Time
}

var (
	_ fs.NodeOpener    = (*file)(nil)
	_ fs.NodeGetattrer = (*file)(nil)
	_ fs.NodeSetattrer = (*file)(nil)
	_ fs.NodeReader    = (*file)(nil)
	_ fs.NodeWriter    = (*file)(nil)
	_ fs.NodeFsyncer   = (*file)(nil)
	_ fs.NodeFlusher   = (*file)(nil)
)

func (f *file) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	if f.st.dead {
		return nil, 0, syscall.EIO
	}
	if flags&syscall.O_TRUNC != 0 {
		f.truncateLocked(0)
	}
	return nil, 0, fs.OK
}

func (f *file) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno { return fs.OK }

func (f *file) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	f.attrLocked(&out.Attr)
	return fs.OK
}

func (f *file) attrLocked(a *fuse.Attr) {
	a.Mode = fuse.S_IFREG | f.mode
	a.Size = uint64(f.size)
	a.Blocks = (a.Size + 511) / 512
	a.Nlink = 1
	a.SetTimes(nil, &f.mtime, &f.mtime)
}

func (f *file) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	if f.st.dead {
		return syscall.EIO
	}
	if f.st.ro {
		return syscall.EROFS
	}
	if sz, ok := in.GetSize(); ok {
		f.truncateLocked(int64(sz))
	}
	if m, ok := in.GetMode(); ok {
		f.mode = m & 0o7777
	}
	if mt, ok := in.GetMTime(); ok {
		f.mtime = mt
	}
	f.attrLocked(&out.Attr)
	return fs.OK
}

func (f *file) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	if f.st.dead {
		return nil, syscall.EIO
	}
	if off >= f.size {
		return fuse.ReadResultData(nil), fs.OK
	}
	buf := dest[:min(int64(len(dest)), f.size-off)]
	if err := f.readBaseLocked(buf, off); err != nil {
		return nil, fs.ToErrno(err)
	}
	for at := off / pageSize * pageSize; at < off+int64(len(buf)); at += pageSize {
		if p, ok := f.dirty[at/pageSize]; ok {
			copyPage(buf, off, p, at)
		}
	}
	return fuse.ReadResultData(buf), fs.OK
}

// copyPage copies the overlap of page p (at offset at) into buf (at off).
func copyPage(buf []byte, off int64, p []byte, at int64) {
	from := max(off, at)
	to := min(off+int64(len(buf)), at+pageSize)
	copy(buf[from-off:to-off], p[from-at:to-at])
}

// readBaseLocked reads the durable contents at off into buf, with zeros
// past their end and past low.
func (f *file) readBaseLocked(buf []byte, off int64) error {
	clear(buf)
	end := min(f.durSize, f.low)
	if off >= end {
		return nil
	}
	part := buf[:min(int64(len(buf)), end-off)]
	if f.bf == nil {
		copy(part, f.mem[off:])
		return nil
	}
	if _, err := f.bf.ReadAt(part, off); err != nil && err != io.EOF {
		return fmt.Errorf("lazyfs: read the backing file: %w", err)
	}
	return nil
}

func (f *file) Write(ctx context.Context, fh fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	if f.st.dead {
		return 0, syscall.EIO
	}
	if f.st.ro {
		return 0, syscall.EROFS
	}
	if f.dirty == nil {
		f.dirty = map[int64][]byte{}
	}
	end := off + int64(len(data))
	for at := off / pageSize * pageSize; at < end; at += pageSize {
		p, ok := f.dirty[at/pageSize]
		if !ok {
			p = make([]byte, pageSize)
			if err := f.readBaseLocked(p, at); err != nil {
				return 0, fs.ToErrno(err)
			}
			// Bytes past the size are zeros, whatever the base holds.
			if f.size < at+pageSize {
				clear(p[max(f.size-at, 0):])
			}
			f.dirty[at/pageSize] = p
		}
		from, to := max(off, at), min(end, at+pageSize)
		copy(p[from-at:to-at], data[from-off:to-off])
	}
	f.size = max(f.size, end)
	f.mtime = time.Now()
	return uint32(len(data)), fs.OK
}

// truncateLocked sets the size the mount shows to sz.
func (f *file) truncateLocked(sz int64) {
	if sz < f.size {
		for i, p := range f.dirty {
			switch at := i * pageSize; {
			case at >= sz:
				delete(f.dirty, i)
			case at+pageSize > sz:
				clear(p[sz-at:])
			}
		}
		f.low = min(f.low, sz)
	}
	f.size = sz
	f.mtime = time.Now()
}

// Fsync (and fdatasync) of a file makes its contents durable, not its name.
func (f *file) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	if f.st.dead {
		return syscall.EIO
	}
	if f.st.ro {
		return syscall.EROFS
	}
	if err := f.syncLocked(); err != nil {
		return fs.ToErrno(err)
	}
	return fs.OK
}

// syncLocked writes the dirty pages and the size to the durable contents.
func (f *file) syncLocked() error {
	if len(f.dirty) == 0 && f.low == f.durSize && f.size == f.durSize {
		return nil
	}
	if f.bf == nil {
		mem := make([]byte, f.size)
		copy(mem, f.mem[:min(f.low, f.durSize)])
		for i, p := range f.dirty {
			copy(mem[i*pageSize:], p)
		}
		f.mem = mem
	} else {
		if f.low < f.durSize {
			if err := f.bf.Truncate(f.low); err != nil {
				return fmt.Errorf("lazyfs: cut the backing file: %w", err)
			}
		}
		for i, p := range f.dirty {
			at := i * pageSize
			if _, err := f.bf.WriteAt(p[:min(pageSize, f.size-at)], at); err != nil {
				return fmt.Errorf("lazyfs: write the backing file: %w", err)
			}
		}
		if err := f.bf.Truncate(f.size); err != nil {
			return fmt.Errorf("lazyfs: size the backing file: %w", err)
		}
	}
	f.dirty = nil
	f.durSize, f.low = f.size, f.size
	return nil
}

// nameLocked gives the file a durable name: a backing file at path holding
// its durable contents.
func (f *file) nameLocked(path string) error {
	bf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, os.FileMode(f.mode&0o777))
	if err != nil {
		return err
	}
	if _, err := bf.WriteAt(f.mem, 0); err != nil {
		bf.Close()
		return err
	}
	f.bf, f.mem = bf, nil
	return nil
}

// unnameLocked takes the durable contents into memory before the file's
// durable name goes away, for as long as the file stays open.
func (f *file) unnameLocked() error {
	if f.bf == nil {
		return nil
	}
	mem := make([]byte, f.durSize)
	if _, err := f.bf.ReadAt(mem, 0); err != nil && err != io.EOF {
		return err
	}
	f.bf.Close()
	f.bf, f.mem = nil, mem
	return nil
}
