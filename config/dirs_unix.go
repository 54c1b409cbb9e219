//go:build !windows

package config

// platformDefaults returns the Linux (and other Unix) folders of the
// Filesystem Hierarchy Standard: configuration in /etc, state in /var/lib.
func platformDefaults() platformDirs {
	return platformDirs{config: "/etc/posagent", data: "/var/lib/posagent"}
}
