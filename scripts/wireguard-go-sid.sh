#!/usr/bin/env bash
# Fetches (once) the current wireguard-go, Debian sid's package, for bench/throughput.sh: Debian
# 12's wireguard-go 0.0.20220316 predates wireguard-go's TUN and UDP offloads, so it is not
# today's anchor. The package is downloaded by apt inside the sid chroot that
# scripts/strongswan-sid.sh builds, and unpacked with `dpkg-deb -x` (a static Go binary that runs
# on Debian 12). Prints the path of the binary on stdout, and its version on stderr.
#
#   scripts/wireguard-go-sid.sh        # → /var/cache/ikegate/wireguard-go-sid/usr/bin/wireguard-go
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sid="${IKEGATE_SID_DIR:-/var/cache/ikegate/strongswan-sid}"
dest="${IKEGATE_WG_DIR:-/var/cache/ikegate/wireguard-go-sid}"
bin="$dest/usr/bin/wireguard-go"
if [ ! -x "$bin" ]; then
    [ "$(id -u)" = 0 ] || { echo "wireguard-go-sid.sh: run as root" >&2; exit 1; }
    "$here/strongswan-sid.sh" >&2
    chroot "$sid" apt-get -qq -o Acquire::Check-Valid-Until=false update >&2
    tmp="$(mktemp -d "$sid/tmp/wg.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && chroot "$sid" sh -c "cd /tmp/$(basename "$tmp") && apt-get -qq download wireguard-go") >&2
    deb="$(ls "$tmp"/wireguard-go_*.deb)"
    rm -rf "$dest.new" && mkdir -p "$dest.new"
    dpkg-deb -x "$deb" "$dest.new"
    dpkg-deb -f "$deb" Version >"$dest.new/VERSION"
    rm -rf "$dest" && mv "$dest.new" "$dest"
fi
echo "wireguard-go-sid.sh: wireguard-go $(cat "$dest/VERSION") (Debian sid) at $bin" >&2
echo "$bin"
