//go:build !windows

package service

import kservice "github.com/kardianos/service"

// underManager reports whether the process was started by the service
// manager rather than from a terminal: on Linux, whether systemd (or init) is
// its parent.
func underManager() bool {
	return !kservice.Interactive()
}
