#!/bin/sh
# After posagent's files are in place: make the state folder and the status
# token, enable the service so it starts at every boot, and start it (or
# restart it after an upgrade) when systemd is running.
#
# Arguments: deb "configure" [old version]; rpm 1 (install) or 2 (upgrade).
set -e

install -d -m 0750 -o posagent -g posagent /var/lib/posagent

# The bearer token a status endpoint other hosts can reach demands
# (status.token_file): 32 random bytes as 64 hex digits, readable by root and
# the service alone. An existing file is kept, whatever it holds: a
# technician may have rotated it, and head office may hold it.
token=/etc/posagent/status.token
if [ ! -e "$token" ]; then
	tmp=$(mktemp /etc/posagent/.status.token.XXXXXX)
	od -An -v -N32 -tx1 /dev/urandom | tr -d ' \n' >"$tmp"
	echo >>"$tmp"
	chown root:posagent "$tmp"
	chmod 0640 "$tmp"
	mv "$tmp" "$token"
fi

upgrade=no
case "$1" in
configure) [ -n "$2" ] && upgrade=yes ;;
2) upgrade=yes ;;
esac

if command -v systemctl >/dev/null 2>&1; then
	# enable works without a running systemd too (as in an image build).
	systemctl enable posagent.service >/dev/null 2>&1 ||
		echo "posagent: could not enable the service; run: systemctl enable posagent" >&2
fi

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	if [ "$upgrade" = yes ]; then
		systemctl restart posagent.service ||
			echo "posagent: the service did not restart; see: journalctl -u posagent" >&2
	else
		systemctl start posagent.service ||
			echo "posagent: the service did not start; see: journalctl -u posagent" >&2
	fi
fi

if [ "$upgrade" = no ]; then
	cat <<'MSG'
posagent is installed. Next steps:
  1. edit /etc/posagent/posagent.toml (serial port, Alipay client_id)
  2. put the key files next to it, then: chgrp posagent /etc/posagent/*.pem; chmod 0640 /etc/posagent/*.pem
  3. check it:  posagent config check
  4. restart:   posagent service restart
MSG
fi
