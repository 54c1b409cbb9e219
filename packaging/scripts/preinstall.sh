#!/bin/sh
# Before posagent's files are unpacked: create the system user the service
# runs as, in the dialout group that owns the serial ports.
set -e

if ! getent group dialout >/dev/null; then
	groupadd --system dialout
fi
if ! getent group posagent >/dev/null; then
	groupadd --system posagent
fi
if ! getent passwd posagent >/dev/null; then
	useradd --system --gid posagent --groups dialout \
		--home-dir /var/lib/posagent --no-create-home \
		--shell /usr/sbin/nologin --comment "posagent payment agent" posagent
else
	# An existing user (say from an older install) still needs the port.
	usermod --append --groups dialout posagent
fi
