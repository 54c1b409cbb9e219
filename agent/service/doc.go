// Package service makes posagent a system service: it installs, removes,
// starts, stops and reports on the posagent service (systemd on Linux, the
// Service Control Manager on Windows), runs the agent the same way in a
// terminal and under the service manager, and chooses where a service's log
// lines go.
//
// On Linux the unit installed is posagent.service in this folder, the one
// the deb and rpm packages ship (packaging/nfpm.yaml takes it from here). On
// Windows the service starts automatically at boot, restarts
// after any failure, also one that ends with an error instead of a crash, and
// has an Event Log source of its own.
package service
