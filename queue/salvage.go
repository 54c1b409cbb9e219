package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Report says what Open did with a file that failed its integrity check.
// It is meant to be logged in full.
type Report struct {
	Path    string // the store file, now a fresh one
	MovedTo string // where the damaged file was moved
	Problem string // what the integrity check found
	// PageScan is true when the bbolt tree could not be read in full, or
	// when some records came back only by scanning the damaged file's
	// pages for records one by one. Such a scan finds the newest readable revision of each record, which may be
	// older than the last committed one if that sat on a damaged page, and
	// may bring back payments already removed by retention.
	PageScan bool
	Salvaged []string // request ids copied into the fresh file
	// Recovered names the salvaged payments that were not final. Each is
	// flagged for follow-up (RecoveredReason) and has Payment.Recovered
	// set: the state it was saved in may be older than the last one
	// committed, so the agent must ask Alipay before acting on it.
	Recovered []string
	Lost      []Loss // payments known to exist that could not be saved
	// BadPages counts pages the scan could not make sense of; records on
	// them are lost without a trace of their ids.
	BadPages int
	// Appended counts zero bytes that opening the damaged file added to
	// its end and that could not be cut off again (see Store.salvage); the
	// bytes before them are the file as it was found.
	Appended int64
}

// Loss names a payment that could not be saved and why.
type Loss struct {
	RequestID string `json:"req"`
	Reason    string `json:"reason"`
}

// RecoveredReason is the follow-up reason of an unfinished payment that a
// salvage brought back.
const RecoveredReason = "recovered from a damaged store"

// String renders the report as one paragraph for the log.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the store %s failed its integrity check (%s); the damaged file was moved to %s and %d payments were saved into a fresh file",
		r.Path, r.Problem, r.MovedTo, len(r.Salvaged))
	if r.PageScan {
		b.WriteString(" by scanning its pages")
	}
	if len(r.Recovered) > 0 {
		fmt.Fprintf(&b, "; %d were not final and are flagged for follow-up, to be verified with Alipay: %s", len(r.Recovered), strings.Join(r.Recovered, " "))
	}
	if len(r.Lost) > 0 {
		fmt.Fprintf(&b, "; %d could not be saved:", len(r.Lost))
		for _, l := range r.Lost {
			fmt.Fprintf(&b, " %s (%s)", l.RequestID, l.Reason)
		}
	}
	if r.BadPages > 0 {
		fmt.Fprintf(&b, "; %d pages were unreadable", r.BadPages)
	}
	if r.Appended > 0 {
		fmt.Fprintf(&b, "; the moved file ends in %d zero bytes that opening it added", r.Appended)
	}
	return b.String()
}

// salvage reads what it can from the damaged file at s.path, writes it
// into a new file beside it, and only when that is on disk moves the
// damaged file aside and the new one into its place, then opens it. If the
// new file cannot be written (a full disk), the damaged file stays where it
// is and the next Open tries again. problem is what the integrity check
// found.
//
// The damaged file is kept byte for byte as Open found it, size bytes long:
// on Windows bbolt grows a file it opens read-write to the size of its
// memory map, so a file cut short gains a tail of zeros by being opened.
// That tail is cut off again before anything reads or moves the file. Where
// Windows refuses (bbolt failed while the file was mapped, and the mapping
// lasts until the process ends), the zeros stay and the report counts them:
// saving the payments matters more.
func (s *Store) salvage(problem error, size int64, timeout time.Duration) error {
	var appended int64
	if fi, err := os.Stat(s.path); err == nil && size >= 0 && fi.Size() > size {
		if err := os.Truncate(s.path, size); err != nil {
			appended = fi.Size() - size
		}
	}
	found, history, rep, err := readDamaged(s.path)
	if err != nil {
		return fmt.Errorf("the store %s is damaged (%v) and cannot be salvaged: %w", s.path, problem, err)
	}
	rep.Appended = appended
	rep.Path, rep.Problem = s.path, problem.Error()
	ids := make([]string, 0, len(found))
	for id := range found {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	rep.Salvaged = ids
	for _, id := range ids {
		if p := found[id]; !p.State.Final() {
			s.recovered(&p)
			found[id] = p
			rep.Recovered = append(rep.Recovered, id)
		}
	}

	tmp := salvageName(s.path)
	moved := movedName(s.path, s.now())
	history = append(history, rep.record(s.now(), moved))
	if err := writeSalvage(tmp, found, ids, history, timeout); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("the store %s is damaged (%v) and the payments read from it could not be written to %s: %w", s.path, problem, tmp, err)
	}
	if err := os.Rename(s.path, moved); err != nil {
		return fmt.Errorf("the store %s is damaged (%v) and could not be moved aside: %w", s.path, problem, err)
	}
	rep.MovedTo = moved
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("the store %s was damaged and moved to %s, but the saved payments in %s could not be put in its place: %w", s.path, moved, tmp, err)
	}
	// Until the folder is synced, a power cut can bring the damaged file
	// back in place of the fresh one, with every payment accepted since.
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return fmt.Errorf("the store %s was salvaged, but its folder could not be synced to make that last: %w", s.path, err)
	}
	db, file, mapped, err := openWritable(s.path, timeout)
	if err != nil {
		return fmt.Errorf("the store %s was damaged and moved to %s, but the fresh file does not open: %w", s.path, moved, err)
	}
	s.report = rep
	return s.attach(db, file, mapped)
}

// recovered flags an unfinished payment that a salvage brought back: the
// state it was saved in may not be the last one committed, so it must be
// verified with Alipay before any cancel or RESULT.
func (s *Store) recovered(p *Payment) {
	p.Recovered = true
	if !strings.Contains(p.FollowUp, RecoveredReason) {
		p.FollowUp = joinNote(p.FollowUp, RecoveredReason)
		s.audit(p, Event{Call: CallFlag, Note: RecoveredReason})
	}
}

// salvageName is the file a salvage is written to before it replaces the
// damaged one.
func salvageName(path string) string { return path + ".salvage" }

// finishSalvage completes a salvage cut short between moving the damaged
// file aside and moving the new file into place.
func finishSalvage(path string) error {
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := os.Lstat(salvageName(path)); err != nil {
		return nil
	}
	if err := os.Rename(salvageName(path), path); err != nil {
		return fmt.Errorf("put the salvaged store %s in place: %w", salvageName(path), err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("put the salvaged store %s in place: %w", salvageName(path), err)
	}
	return nil
}

// writeSalvage writes the payments found into a new store file at path,
// rebuilding every index from the records.
func writeSalvage(path string, found map[string]Payment, ids []string, history []Salvage, timeout time.Duration) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	db, _, err := openBolt(path, false, timeout)
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := initLayout(tx); err != nil {
			return err
		}
		if err := putSalvages(tx, history); err != nil {
			return err
		}
		// The records go in in key order, so full pages lose no room and
		// the fresh file is written with about half the pages.
		tx.Bucket(bucketPayments).FillPercent = 1.0
		for _, id := range ids {
			p := found[id]
			if err := writeRecord(tx, nil, &p); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// movedName is where the damaged file at path is moved:
// "<path>.corrupt-<UTC time>", with a counter added when that name is
// taken.
func movedName(path string, now time.Time) string {
	base := path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	to := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(to); errors.Is(err, os.ErrNotExist) {
			return to
		}
		to = fmt.Sprintf("%s-%d", base, i)
	}
}

// readDamaged reads every record it can from the damaged file at path,
// without bbolt: first through the tree as walkFile finds it, then by
// scanning the file's bytes (scanPages). Records read through the tree are the committed ones and
// win over scanned ones; a record is taken under the request id it holds,
// its checksum vouching for it, even where the key leading to it is
// damaged. Payment ids named by an index or by an undecodable record but
// not saved are reported as lost. It also returns the salvage history the
// file kept, when that was readable. It fails only for a file from a
// newer program, which it cannot read.
func readDamaged(path string) (map[string]Payment, []Salvage, *Report, error) {
	rep := &Report{}
	found := map[string]Payment{}
	data, err := os.ReadFile(path)
	if err != nil {
		rep.Lost = append(rep.Lost, Loss{RequestID: "*", Reason: "the file could not be read: " + err.Error()})
		return found, nil, rep, nil
	}
	img := walkFile(data, nil)
	schema, err := imageSchema(img)
	if errors.Is(err, ErrSchema) {
		return nil, nil, nil, err
	} else if err != nil {
		schema = 0 // not known; each record says
	} else if schema == 1 && liveFramed(img) {
		// A stamp of 1 is a damaged byte or two away from 2. A file of
		// schema 1 never leads to a record whose frame and checksum
		// match, so one that does is of schema 2 and its records are
		// read as such, not lost.
		schema = framedSchema
	}
	var history []Salvage
	if v := img.get(bucketMeta, keySalvages); v != nil {
		history, _ = decodeSalvages(v)
	}
	known := map[string]string{} // request id -> why it could not be saved
	for _, name := range indexBuckets {
		readIndex(img.buckets[string(name)], name, known)
	}
	for _, kv := range img.buckets[string(bucketPayments)] {
		p, err := decodeSchema(schema, kv.v)
		if err != nil {
			known[string(kv.k)] = fmt.Sprintf("record %q is damaged: %v", kv.k, err)
			continue
		}
		found[p.RequestID] = p
	}
	// The pages are scanned whatever the tree gave: a damaged element
	// header can hide an intact record from the tree without breaking
	// the tree's structure.
	_, ok := img.buckets[string(bucketPayments)]
	rep.PageScan = img.unreadable || !ok
	scanned, bad := scanPages(data, img.ps, schema, found)
	if rep.PageScan {
		rep.BadPages = bad
	}
	for id, p := range scanned {
		if _, ok := found[id]; !ok {
			found[id] = p
			rep.PageScan = true
		}
	}
	for id, why := range known {
		if _, ok := found[id]; !ok {
			rep.Lost = append(rep.Lost, Loss{RequestID: id, Reason: why})
		}
	}
	sort.Slice(rep.Lost, func(i, j int) bool { return rep.Lost[i].RequestID < rep.Lost[j].RequestID })
	return found, history, rep, nil
}

// liveFramed reports whether the payments the tree of img leads to hold a
// whole schema-2 record.
func liveFramed(img *fileImage) bool {
	for _, kv := range img.buckets[string(bucketPayments)] {
		if _, err := unframe(kv.v); err == nil {
			return true
		}
	}
	return false
}

// readIndex notes in known every payment id an index names.
func readIndex(pairs []pair, name []byte, known map[string]string) {
	for _, kv := range pairs {
		id := string(kv.k)
		if string(name) != string(bucketFollowUp) {
			_, id, _ = splitTimeKey(kv.k)
		}
		if _, ok := known[id]; !ok && id != "" {
			known[id] = fmt.Sprintf("named in index %q but its record is unreadable", name)
		}
	}
}
