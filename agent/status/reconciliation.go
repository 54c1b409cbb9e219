package status

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/posagent/posagent/queue"
)

// Reconciliations keeps the summary of the last `posagent reconcile`;
// *queue.Store satisfies it.
type Reconciliations interface {
	LastReconciliation() (queue.Reconciliation, bool, error)
	PutReconciliation(queue.Reconciliation) error
}

// Reconciliation is the last reconciliation as the page, /api/status and
// /metrics show it.
type Reconciliation struct {
	queue.Reconciliation
	// Error says why the summary cannot be read; the other fields are
	// then zero.
	Error string `json:"error,omitempty"`
}

// fillReconciliation sets snap.Reconciliation from recs: nil when there is
// no store of summaries or no reconciliation ran yet.
func fillReconciliation(snap *Snapshot, recs Reconciliations) {
	if recs == nil || !snap.Store.Open {
		return
	}
	r, ok, err := recs.LastReconciliation()
	switch {
	case err != nil:
		snap.Reconciliation = &Reconciliation{Error: err.Error()}
	case ok:
		snap.Reconciliation = &Reconciliation{Reconciliation: r}
	}
}

// maxReconciliationBody bounds the body of PUT /api/reconciliation: a
// summary is a few hundred bytes and its file names.
const maxReconciliationBody = 1 << 20

// putReconciliation stores the summary in the body, for `posagent
// reconcile` while the agent holds the store. It is the endpoint's only
// write, so it demands the token of status.token_file whatever the
// listener; an agent without a usable token file takes no summary.
func (s *Server) putReconciliation(w http.ResponseWriter, r *http.Request) {
	if s.recs == nil {
		writeError(w, http.StatusNotFound, errors.New("this agent keeps no reconciliation summary"))
		return
	}
	if s.writeSum == nil {
		writeError(w, http.StatusForbidden, errors.New("the agent could not read status.token_file when it started, so it takes no reconciliation summary; make the file readable to it and restart it"))
		return
	}
	given, ok := bearer(r.Header.Get("Authorization"))
	sum := sha256.Sum256([]byte(given))
	if !ok || subtle.ConstantTimeCompare(sum[:], s.writeSum[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="posagent"`)
		writeError(w, http.StatusUnauthorized, errors.New("storing a reconciliation summary needs the token of status.token_file in an Authorization: Bearer header"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReconciliationBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("cannot read the summary: %w", err))
		return
	}
	if len(body) > maxReconciliationBody {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("the summary is longer than %d bytes", maxReconciliationBody))
		return
	}
	var rec queue.Reconciliation
	if err := json.Unmarshal(body, &rec); err != nil || rec.Time.IsZero() {
		writeError(w, http.StatusBadRequest, fmt.Errorf("the body is not a reconciliation summary with its time (%v)", err))
		return
	}
	if err := s.recs.PutReconciliation(rec); err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}
