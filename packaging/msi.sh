# shellcheck shell=bash
# Sourced by packaging/build.sh and .ci/packages: the one recipe for a
# posagent Windows installer. Needs Debian's wixl and msitools.

# The installer source, found from where this file is, whatever folder the
# script that sources it works in.
msi_wxs=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/windows/posagent.wxs

# msi_build ARCH VERSION EXE CONFIG OUT builds the installer OUT for ARCH
# (x64 or x86) from the posagent.exe EXE and the Windows configuration file
# CONFIG. VERSION is the installer's version: three numbers, the first two at
# most 255, the third at most 65535.
msi_build() {
	local arch=$1 version=$2 exe=$3 config=$4 out=$5
	local attrs dir rc=0
	# The DefaultConfig component's attributes, which wixl cannot set (see
	# packaging/windows/posagent.wxs): Permanent|NeverOverwrite, and
	# 64bit for x64.
	case $arch in
	x64) attrs=400 ;;
	x86) attrs=144 ;;
	*)
		echo "msi_build: architecture \"$arch\" is neither x64 nor x86" >&2
		return 1
		;;
	esac
	[[ $out == /* ]] || out=$PWD/$out
	# wixl finds the sources relative to the folder it runs in.
	dir=$(mktemp -d)
	{ cp "$exe" "$dir/posagent.exe" && cp "$config" "$dir/posagent.toml" &&
		(cd "$dir" && wixl --arch "$arch" -D Arch="$arch" -D Version="$version" \
			-D Exe=posagent.exe -D Config=posagent.toml -o "$out" "$msi_wxs") &&
		msibuild "$out" -q "UPDATE \`Component\` SET \`Attributes\` = $attrs WHERE \`Component\` = 'DefaultConfig'"; } || rc=$?
	rm -rf "$dir"
	return "$rc"
}
