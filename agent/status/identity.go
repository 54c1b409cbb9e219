package status

// Identity names a terminal in head office's monitoring: the store and the
// checkout lane it serves, as configured in [status] store and lane. Either
// may be empty.
//
// /metrics carries them as the labels of one series, posagent_info, rather
// than on every series: labels that are the same on every series of a
// target are the target's identity, which Prometheus practice leaves to the
// scraper (target labels) or to an info series that queries join on
// instance; docs/monitoring.md shows the joins.
type Identity struct {
	Store string
	Lane  string
}
