#!/bin/sh
# Before posagent's files are removed: stop and disable the service, unless
# this is an upgrade, after which the new version restarts it.
#
# Arguments: deb "remove" or "upgrade"...; rpm 0 (erase) or 1 (upgrade).
set -e

case "$1" in
remove | 0) ;;
*) exit 0 ;;
esac

if [ -d /run/systemd/system ]; then
	systemctl stop posagent.service || true
fi
if command -v systemctl >/dev/null 2>&1; then
	systemctl disable posagent.service >/dev/null 2>&1 || true
fi
