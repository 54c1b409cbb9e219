#!/bin/sh
# After posagent's files are removed: tell systemd the unit is gone.
#
# The payment store in /var/lib/posagent and the posagent user are kept, even
# on purge: the store is the record of payments, and deleting it is a
# decision for a person, not for a package manager.
set -e

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi

case "$1" in
purge)
	# Written by postinstall, so not a conffile that dpkg purges itself.
	rm -f /etc/posagent/status.token
	echo "posagent: the payment store in /var/lib/posagent is kept; delete it by hand once it is no longer needed" >&2
	;;
esac
