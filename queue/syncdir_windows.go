package queue

// syncDir does nothing on Windows, where a folder cannot be opened to be
// synced: NTFS journals its names itself.
func syncDir(dir string) error { return nil }
