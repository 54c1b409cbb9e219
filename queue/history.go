package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Salvage is what the store keeps of one salvage, so that a technician
// learns of it from the status page, the metrics and `posagent doctor`, not
// only from the log line of the start that did it. The id lists are cut to
// maxSalvageIDs; the counts are whole.
type Salvage struct {
	Time     time.Time `json:"time"`
	MovedTo  string    `json:"movedTo"` // where the damaged file was moved
	Problem  string    `json:"problem"` // what the integrity check found
	PageScan bool      `json:"pageScan,omitempty"`
	Saved    int       `json:"saved"` // payments copied into the fresh file
	// Recovered names the saved payments that were not final: flagged for
	// follow-up and to be verified with Alipay.
	Recovered      []string `json:"recovered,omitempty"`
	RecoveredCount int      `json:"recoveredCount,omitempty"`
	Lost           []Loss   `json:"lost,omitempty"`
	LostCount      int      `json:"lostCount,omitempty"`
	BadPages       int      `json:"badPages,omitempty"`
	Report         string   `json:"report"` // the whole report as logged
}

// maxSalvageIDs bounds the ids a Salvage lists; maxSalvages bounds the
// salvages kept.
const (
	maxSalvageIDs = 100
	maxSalvages   = 10
)

// record is what the store keeps of r, a salvage made at now that moves
// the damaged file to moved.
func (r *Report) record(now time.Time, moved string) Salvage {
	full := *r
	full.MovedTo = moved
	return Salvage{
		Time: now.UTC(), MovedTo: moved, Problem: r.Problem, PageScan: r.PageScan, Saved: len(r.Salvaged),
		Recovered: r.Recovered[:min(len(r.Recovered), maxSalvageIDs)], RecoveredCount: len(r.Recovered),
		Lost: r.Lost[:min(len(r.Lost), maxSalvageIDs)], LostCount: len(r.Lost),
		BadPages: r.BadPages, Report: full.String(),
	}
}

// putSalvages stores the salvage history, the newest maxSalvages of it,
// framed with a checksum like a record.
func putSalvages(tx *bolt.Tx, history []Salvage) error {
	if len(history) == 0 {
		return nil
	}
	history = history[max(0, len(history)-maxSalvages):]
	j, err := json.Marshal(history)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keySalvages, frame(j))
}

// decodeSalvages decodes the stored salvage history.
func decodeSalvages(v []byte) ([]Salvage, error) {
	j, err := unframe(v)
	if err != nil {
		return nil, err
	}
	var history []Salvage
	if err := json.Unmarshal(j, &history); err != nil {
		return nil, fmt.Errorf("it does not decode (%v): %w", err, ErrCorrupt)
	}
	return history, nil
}

// Salvages returns the salvages this store came out of, oldest first,
// that still need a person: those whose damaged file is still kept where
// the salvage moved it. Moving or deleting that file, once the payments
// the report names have been looked at, acknowledges the salvage.
func (s *Store) Salvages() ([]Salvage, error) {
	var history []Salvage
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keySalvages)
		if v == nil {
			return nil
		}
		var err error
		history, err = decodeSalvages(v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the salvage history of %s: %w", s.path, err)
	}
	var open []Salvage
	for _, h := range history {
		if _, err := os.Lstat(h.MovedTo); !errors.Is(err, os.ErrNotExist) {
			open = append(open, h)
		}
	}
	return open, nil
}
