//go:build !windows

package service

// systemSinks adds nothing on Linux: under systemd, stderr goes to the
// journal, which keeps each line's priority.
func systemSinks(_, file string) (string, []sink, error) {
	return file, nil, nil
}
