#!/usr/bin/env bash
# IKE handshakes per second, responder CPU and memory per tunnel: ikegate, strongSwan 5.9 and
# strongSwan 6.1 as responders to one ikegate initiator, N = 100, 500, 2000 tunnels, IKEv1 PSK,
# IKEv2 PSK and IKEv2 ECDSA certificates. See bench/handshakes.py for the method. As root:
#
#     bench/handshakes.sh                     # everything (about 13 minutes; N = 100 five rounds)
#     NS="100 500" CASES=v2-psk bench/handshakes.sh
#
# Not a test: it never gates CI, and the numbers depend on the machine and its load.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "handshakes.sh: run as root" >&2; exit 1; }
scripts/setup-debian.sh >/dev/null
scripts/strongswan-sid.sh >&2
if [ -z "${IKEGATE_BIN:-}" ]; then
    cargo build --release --quiet
fi
exec python3 bench/handshakes.py
