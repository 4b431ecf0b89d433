#!/usr/bin/env bash
# Builds (once) a Debian sid chroot holding strongSwan 6.x for the test harness
# (tests/common/charon: Strongswan::Sid61). Idempotent: a complete chroot carries a stamp file and
# is left alone; a partial one (interrupted run) is built again from scratch in a temporary
# directory that is renamed into place only on success. Needs root and mmdebstrap.
#
#   scripts/strongswan-sid.sh            # build if missing, print the charon version
#   IKEGATE_SID_DIR=/elsewhere scripts/strongswan-sid.sh
set -euo pipefail
dir="${IKEGATE_SID_DIR:-/var/cache/ikegate/strongswan-sid}"
# The stamp names the layout this script makes; a chroot of an older layout is rebuilt.
stamp="$dir/.ikegate-complete-2"
if [ "$(id -u)" != 0 ]; then
    echo "strongswan-sid.sh: run as root (mmdebstrap and chroot need it)" >&2
    exit 1
fi
if ! command -v mmdebstrap >/dev/null; then
    echo "strongswan-sid.sh: mmdebstrap missing (apt-get install mmdebstrap, or run scripts/setup-debian.sh)" >&2
    exit 1
fi
if [ ! -f "$stamp" ]; then
    parent="$(dirname "$dir")"
    mkdir -p "$parent"
    tmp="$(mktemp -d "$parent/.strongswan-sid.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    echo "strongswan-sid.sh: building the sid chroot in $dir (about 20 s, 150 MB)"
    # mmdebstrap wants an empty or missing target; the temporary directory is empty.
    mmdebstrap --variant=apt \
        --aptopt='Acquire::Check-Valid-Until "false"' \
        --include=strongswan-charon,strongswan-swanctl,libcharon-extra-plugins,libstrongswan-standard-plugins,libstrongswan-extra-plugins,libcharon-extauth-plugins,strongswan-pki,iproute2,iputils-ping \
        sid "$tmp" http://deb.debian.org/debian
    test -x "$tmp/usr/lib/ipsec/charon" || {
        echo "strongswan-sid.sh: $tmp/usr/lib/ipsec/charon missing after mmdebstrap" >&2
        exit 1
    }
    # A bind-mount target for /dev/net/tun (kernel-libipsec's TUN device): the harness binds the
    # host's device over it inside a private mount namespace.
    mkdir -p "$tmp/dev/net"
    touch "$tmp/dev/net/tun"
    date -u +%FT%TZ >"$tmp/.ikegate-complete-2"
    chmod 755 "$tmp"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    trap - EXIT
fi
# charon prints e.g. "strongSwan 6.1.0"; the package version says which Debian build it is.
version="$(chroot "$dir" /usr/lib/ipsec/charon --version)"
package="$(chroot "$dir" dpkg-query -W -f='${Version}' strongswan-charon)"
echo "strongswan-sid.sh: $version (Debian $package) in $dir"
