// Package status serves what a technician needs to see of a running agent:
// a health check, Prometheus metrics, the agent's state, its payments and
// the day's report (package report) as JSON, and a small self-refreshing
// HTML page, all from the binary and by default on a loopback address only.
//
// The package reads; it never changes a payment. Its one write is the
// summary of the last `posagent reconcile` (PUT /api/reconciliation), taken
// only with the token of status.token_file. The agent supplies its state
// through a Source and its payments through Payments (which *queue.Store
// satisfies), and reports each Alipay call to a Metrics.
package status
