package queue

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSalvageIsKeptUntilItsDamagedFileIsMovedAway(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posagent.db")
	damage(t, path, 60)
	s, err := Open(path, Options{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	rep := s.Report()
	s.Close()

	// Kept in the file, for doctor and the status page of later starts.
	r, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Salvages()
	if err != nil || len(got) != 1 {
		t.Fatalf("Salvages = %+v, %v; want the one salvage", got, err)
	}
	h := got[0]
	if h.MovedTo != rep.MovedTo || h.Saved != 59 || h.LostCount != 1 || h.Lost[0].RequestID != "pos-000042" ||
		h.RecoveredCount != 19 || len(h.Recovered) != 19 || !strings.Contains(h.Report, rep.MovedTo) {
		t.Fatalf("salvage kept as %+v; want the report's moved file, 59 saved, 19 recovered, pos-000042 lost", h)
	}
	for _, id := range h.Recovered {
		p, err := r.Get(id)
		if err != nil || !p.Recovered || !strings.Contains(p.FollowUp, RecoveredReason) {
			t.Fatalf("recovered payment %s = %+v, %v; want it flagged", id, p, err)
		}
	}

	if err := os.Rename(h.MovedTo, filepath.Join(t.TempDir(), "kept.db")); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Salvages(); err != nil || len(got) != 0 {
		t.Fatalf("Salvages after the damaged file was moved away = %+v, %v; want none", got, err)
	}
}
