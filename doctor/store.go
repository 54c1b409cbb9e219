package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/posagent/posagent/config"
	"github.com/posagent/posagent/queue"
)

// checkStore opens the payment store read-only, which also runs its
// integrity check, and counts what it holds. A store locked by a running
// agent is fine. It reports whether a running agent holds the store, which
// tells checkPort to leave the serial port alone.
func checkStore(r *report, cfg *config.Config, lockTimeout time.Duration) (held bool) {
	path := cfg.Storage.Path
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		dir := filepath.Dir(path)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			r.fail("store", fmt.Sprintf("the folder %s for storage.path does not exist; create it, writable by the user posagent runs as", dir))
			return false
		}
		r.warn("store", fmt.Sprintf("%s does not exist yet; posagent creates it at its first start, so make sure it may write in %s", path, dir))
		return false
	}
	store, err := queue.Open(path, queue.Options{ReadOnly: true, LockTimeout: lockTimeout})
	switch {
	case errors.Is(err, queue.ErrLocked):
		r.pass("store", fmt.Sprintf("%s is in use by a running posagent", path))
		return true
	case err != nil:
		r.fail("store", fmt.Sprintf("%v; fix the file or storage.path, then start posagent", err))
		return false
	}
	defer store.Close()
	st, err := store.Stats()
	if err != nil {
		r.fail("store", fmt.Sprintf("%s opens but cannot be read (%v); start posagent, which salvages a damaged store", path, err))
		return false
	}
	msg := fmt.Sprintf("%s opens and passes its integrity check: %d pending, %d cancelling, %d results waiting for the register, %d delivered",
		path, st.Pending, st.Cancelling, st.Undelivered, st.Delivered)
	salvages, err := store.Salvages()
	if err != nil {
		r.fail("store", fmt.Sprintf("%s opens but its salvage history cannot be read (%v); start posagent, which salvages a damaged store", path, err))
		return false
	}
	if len(salvages) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%s; it was salvaged from a damaged file (reports: %d). Check the payments each report names (posagent queue list shows them flagged for follow-up), keep the damaged file for support, then move it away from %s to clear this warning:", msg, len(salvages), filepath.Dir(path))
		for _, h := range salvages {
			fmt.Fprintf(&b, "\n%s: %s", h.Time.Format(time.RFC3339), h.Report)
		}
		r.warn("store", b.String())
		return false
	}
	if st.FollowUp > 0 {
		r.warn("store", fmt.Sprintf("%s; %d payments are flagged for follow-up: list them with posagent queue list", msg, st.FollowUp))
		return false
	}
	r.pass("store", msg)
	return false
}
