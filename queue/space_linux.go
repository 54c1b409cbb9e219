package queue

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

func diskSpace(dir string) (Space, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return Space{}, err
	}
	if st.Blocks == 0 {
		// Some FUSE and network file systems report no sizes at all.
		return Space{}, errors.ErrUnsupported
	}
	return Space{Free: st.Bavail * uint64(st.Bsize), ReadOnly: st.Flags&unix.ST_RDONLY != 0}, nil
}

// preallocate allocates f on disk up to size bytes, extending it where it
// is shorter. A file system that cannot gives errors.ErrUnsupported.
func preallocate(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return errors.ErrUnsupported
	}
	if err != nil {
		return &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
	}
	return nil
}
