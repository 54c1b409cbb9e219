//go:build windows

package device

// resolvePath returns a COM port name as it is: Windows has no symlinks for
// ports; the name stays with the adapter.
func resolvePath(path string) (string, error) { return path, nil }

// lockPort does nothing on Windows: a COM port is opened without sharing, so
// a second process trying to open it fails with "access denied", which
// serial.Open reports.
func lockPort(string) (release func(), err error) { return func() {}, nil }
