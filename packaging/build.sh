#!/usr/bin/env bash
# Builds every posagent release file into dist/:
#
#   posagent_VERSION_linux_{amd64,arm64,arm}          Linux binaries
#   posagent_VERSION_windows_{amd64,386}.exe          Windows binaries
#   posagent_VERSION_{amd64,arm64,armhf}.deb          Debian/Ubuntu packages
#   posagent-VERSION.{x86_64,aarch64,armv7hl}.rpm     RHEL/Fedora/SUSE packages
#   posagent-VERSION-{x64,x86}.msi                    Windows installers
#   SHA256SUMS                                        checksums of all of them
#
# Usage: packaging/build.sh VERSION      (VERSION like 1.2.0 or 1.2.0-rc1)
#
# Needs Go, nfpm (go install github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2),
# and Debian's wixl and msitools. With POSAGENT_SIGN_CERT and POSAGENT_SIGN_KEY
# set to the PEM files of a code-signing certificate and its key, the Windows
# exe and msi files are signed with osslsigncode (POSAGENT_SIGN_PASS: the
# key's password, if any).
set -euo pipefail

die() {
	echo "build.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: packaging/build.sh VERSION (like 1.2.0)"
version=$1
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([.+~-][0-9A-Za-z.+~-]*)?$ ]] ||
	die "version \"$version\" is not like 1.2.0 or 1.2.0-rc1; packages need a version that starts with three numbers"
# An MSI version is three numbers, the first two at most 255, the third 65535.
msi_version=$(grep -oE '^[0-9]+\.[0-9]+\.[0-9]+' <<<"$version")
IFS=. read -r major minor patch <<<"$msi_version"
((major <= 255 && minor <= 255 && patch <= 65535)) ||
	die "version \"$version\" is too large for a Windows installer (at most 255.255.65535)"

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dist=$root/dist
# shellcheck source=packaging/msi.sh
. packaging/msi.sh

for tool in go nfpm wixl msibuild msiinfo sha256sum; do
	command -v "$tool" >/dev/null || die "$tool is not installed; see the comment at the top of packaging/build.sh"
done
if [ -n "${POSAGENT_SIGN_CERT:-}" ] || [ -n "${POSAGENT_SIGN_KEY:-}" ]; then
	[ -r "${POSAGENT_SIGN_CERT:-}" ] || die "POSAGENT_SIGN_CERT (${POSAGENT_SIGN_CERT:-unset}) is not a readable certificate file"
	[ -r "${POSAGENT_SIGN_KEY:-}" ] || die "POSAGENT_SIGN_KEY (${POSAGENT_SIGN_KEY:-unset}) is not a readable key file"
	command -v osslsigncode >/dev/null || die "osslsigncode is not installed; it signs the Windows files"
	sign=yes
else
	sign=no
fi

rm -rf "$dist"
mkdir -p "$dist"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# sign_file signs a Windows file in place, when a certificate is given.
sign_file() {
	[ "$sign" = yes ] || return 0
	local pass=()
	[ -n "${POSAGENT_SIGN_PASS:-}" ] && pass=(-pass "$POSAGENT_SIGN_PASS")
	osslsigncode sign -certs "$POSAGENT_SIGN_CERT" -key "$POSAGENT_SIGN_KEY" "${pass[@]}" \
		-h sha256 -n "posagent payment agent" -i "https://github.com/posagent/posagent" \
		-in "$1" -out "$1.signed" >/dev/null
	mv "$1.signed" "$1"
	echo "   signed $(basename "$1")"
}

echo "== binaries ($version)"
for target in linux/amd64 linux/arm64 linux/arm windows/amd64 windows/386; do
	goos=${target%/*} goarch=${target#*/}
	ext=
	[ "$goos" = windows ] && ext=.exe
	out=$dist/posagent_${version}_${goos}_${goarch}$ext
	echo "   $target"
	CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch GOARM=7 GOFLAGS="${GOFLAGS:-} -buildvcs=false" \
		go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$out" ./cmd/posagent
	[ "$goos" = windows ] && sign_file "$out"
done

echo "== deb and rpm"
for arch in amd64 arm64 arm; do
	nfpm_arch=$arch
	[ "$arch" = arm ] && nfpm_arch=arm7
	mkdir -p "$dist/.nfpm"
	cp "$dist/posagent_${version}_linux_$arch" "$dist/.nfpm/posagent"
	for packager in deb rpm; do
		POSAGENT_VERSION=$version POSAGENT_ARCH=$nfpm_arch \
			nfpm package --config packaging/nfpm.yaml --packager "$packager" --target "$dist/" |
			sed 's/^/   /'
	done
done
rm -r "$dist/.nfpm"

echo "== msi"
# The configuration for Windows: its port is a COM port, and its lines end in
# CRLF so that Notepad on older Windows shows them.
sed -e 's|^port = "/dev/ttyUSB0"$|port = "COM3"|' -e 's/$/\r/' packaging/posagent.toml >"$work/posagent.toml"
grep -q '^port = "COM3"' "$work/posagent.toml" || die "packaging/posagent.toml has no port = \"/dev/ttyUSB0\" line to turn into COM3"
for arch in x64 x86; do
	goarch=amd64
	[ "$arch" = x86 ] && goarch=386
	msi=$dist/posagent-$version-$arch.msi
	msi_build "$arch" "$msi_version" "$dist/posagent_${version}_windows_$goarch.exe" "$work/posagent.toml" "$msi"
	sign_file "$msi"
	echo "   $(basename "$msi")"
done

echo "== checksums"
(cd "$dist" && sha256sum -- * >"$work/SHA256SUMS" && mv "$work/SHA256SUMS" SHA256SUMS)
sed 's/^/   /' "$dist/SHA256SUMS"
