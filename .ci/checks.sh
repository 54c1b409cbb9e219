# shellcheck shell=bash
# Sourced by the CI scripts that run many checks and report them together.
# Every check prints one "ok" or "FAIL" line; report ends the script with
# the list of failures, exit 1 if there were any.

# The version .ci/packages builds the release files as, and so the one whose
# files .ci/systemd-boot runs.
# shellcheck disable=SC2034 # used by the scripts that source this file
ci_version=1.2.3-ci
# The Debian base root (debootstrap --variant=minbase, with systemd) that
# .ci/packages makes once and both scripts unpack.
# shellcheck disable=SC2034 # used by the scripts that source this file
ci_base=${POSAGENT_CI_CACHE:-/var/cache/posagent-ci}/bookworm-minbase.tar

failed=()
pass() { echo "   ok    $*"; }
fail() {
	echo "   FAIL  $*"
	failed+=("$*")
}
# check DESCRIPTION COMMAND...: runs COMMAND, a pass if it succeeds.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
# contains DESCRIPTION TEXT WANT...: every WANT is a line-anchored regexp
# that must match somewhere in TEXT.
contains() {
	local what=$1 text=$2 want
	shift 2
	for want in "$@"; do
		if grep -qE -- "$want" <<<"$text"; then
			pass "$what: $want"
		else
			fail "$what: no line matches '$want'"
		fi
	done
}
# eventually SECONDS COMMAND...: runs COMMAND every half second until it
# succeeds, for at most SECONDS. For states no event announces.
eventually() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.5
	done
}
# report NAME: prints the summary of the checks and exits.
report() {
	echo
	if [ ${#failed[@]} -gt 0 ]; then
		echo "$1: ${#failed[@]} check(s) failed:"
		printf '  - %s\n' "${failed[@]}"
		exit 1
	fi
	echo "$1: all checks passed"
	exit 0
}
