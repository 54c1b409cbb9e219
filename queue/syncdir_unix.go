//go:build unix

package queue

import (
	"fmt"
	"os"
)

// syncDir makes the names in folder dir durable: a file created, renamed
// or removed there survives a power cut only once its folder is synced,
// however often the file itself was.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open folder %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}
