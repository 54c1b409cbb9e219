// Package monitoring holds no code: its folder ships the Prometheus alerting
// rules (posagent-alerts.yml, with their promtool unit tests) and the Grafana
// dashboard (posagent-dashboard.json) for a fleet of terminals, described in
// docs/monitoring.md. Its tests check both against the metrics of the real
// posagent binary and, where a Prometheus server is installed, run one that
// scrapes the binary and fires an alert.
package monitoring
