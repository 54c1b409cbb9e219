package queue

import "os"

// mapFile reads the whole of f into memory: on Windows the read-only check
// holds the file once, as the full check does.
func mapFile(f *os.File) ([]byte, func(), error) {
	data, err := readAll(f)
	return data, func() {}, err
}
