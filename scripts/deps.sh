#!/bin/sh
# Installs the Debian packages callerid needs to build, test and demo.
# Idempotent: when every package is present it does nothing (no apt-get
# update, no network). Run as root, or with sudo available.
set -eu

PKGS="build-essential pkg-config clang llvm
libpcap-dev libsqlite3-dev zlib1g-dev libssl-dev libcmocka-dev
libnl-3-dev libnl-idiag-3-dev libnl-nf-3-dev libnl-route-3-dev
tcpdump tshark sqlite3 openssl curl python3 python3-yaml python3-cryptography
iproute2 nftables conntrack procps chromium tcpreplay jq time
clang-tidy cppcheck valgrind
dnsmasq-base bind9-dnsutils"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || { echo "deps: need root (or sudo) to install:$missing" >&2; exit 1; }
	SUDO=sudo
fi
# tshark asks whether non-root users may capture; answer no, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
