#!/bin/bash
# Throughput of ikegate next to strongSwan (kernel-libipsec) and wireguard-go, side by side on
# this machine. Run as root from anywhere:   sudo bench/throughput.sh
#
# Two network namespaces joined by a veth pair (outer 10.9.0.1 ⇄ 10.9.0.2); the inner hosts
# 192.168.1.1 and 192.168.2.1 sit on `lo` behind the tunnel. For each setup: iperf3 TCP with one
# stream, TCP with 4 streams, UDP at a fixed offered rate (loss %), and the CPU seconds each
# gateway process used during those three runs, and CPU seconds per GB moved (both gateways, all
# three runs). ikegate ⇄ ikegate runs with manual SAs and, in two rows, keyed by IKEv2 (a
# negotiated tunnel's packets take its IKE task's path). Then the ratios of the single-stream TCP
# numbers: ikegate against strongSwan 5.9, strongSwan 6.1, Debian 12's wireguard-go 0.0.20220316
# and the current wireguard-go (Debian sid's package, fetched by scripts/wireguard-go-sid.sh; it
# has the TUN and UDP offloads the old one lacks, so it is today's anchor). strongSwan 6.1 runs
# from the sid chroot (scripts/strongswan-sid.sh): IKEv2, kernel-libipsec with `raw_esp = yes` for
# the raw ESP rows.
#
# Environment: T (seconds per iperf3 run, default 5), UDP_RATE (default 1G), ONLY (a regex of
# row names to run, e.g. ONLY='veth|ikegate'), NO_BUILD=1 (use target/release/ikegate as is).
# IKEGATE_BIN=PATH runs that binary instead (implies no build).
# Not a test: it never gates CI, and the numbers depend on the machine and its load.
set -u
T=${T:-5}
UDP_RATE=${UDP_RATE:-1G}
UDP_LEN=1300
ONLY=${ONLY:-.}
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${IKEGATE_BIN:-$REPO/target/release/ikegate}
CHARON=/usr/lib/ipsec/charon
L=ikb-l R=ikb-r
LO=10.9.0.1 RO=10.9.0.2 LI=192.168.1.1 RI=192.168.2.1
WORK=$(mktemp -d /tmp/ikegate-bench.XXXXXX)
PIDS=()

die() { echo "throughput.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (namespaces, TUN devices, raw sockets)"
# The test suite's packages (iperf3, strongSwan with kernel-libipsec and its crypto plugins),
# plus wireguard-go for its row.
"$(dirname "$0")/../scripts/setup-debian.sh" || die "scripts/setup-debian.sh failed"
if ! command -v wireguard-go >/dev/null || ! command -v wg >/dev/null; then
    echo "installing: wireguard-go wireguard-tools"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends \
        wireguard-go wireguard-tools >/dev/null || die "cannot install wireguard-go"
fi
for p in iperf3 python3 ip; do command -v $p >/dev/null || die "missing $p"; done
SID=/var/cache/ikegate/strongswan-sid
WG_NEW=$("$REPO/scripts/wireguard-go-sid.sh") || WG_NEW=""
WG_NEW_VER=$(cat "$(dirname "$(dirname "$(dirname "$WG_NEW")")")/VERSION" 2>/dev/null || echo "?")
WG_OLD_VER=$(dpkg-query -W -f='${Version}' wireguard-go 2>/dev/null || echo "?")
SWAN61_VER=$(chroot $SID /usr/lib/ipsec/charon --version 2>/dev/null || echo "?")

if [ -z "${NO_BUILD:-}" ] && [ -z "${IKEGATE_BIN:-}" ]; then
    (cd "$REPO" && cargo build --release --quiet) || die "cargo build --release failed"
fi
[ -x "$BIN" ] || die "no $BIN"

stop_all() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    PIDS=()
}
teardown() {
    stop_all
    ip netns del $L 2>/dev/null
    ip netns del $R 2>/dev/null
}
cleanup() { teardown; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

setup() {
    teardown
    ip netns add $L && ip netns add $R || die "cannot create namespaces"
    ip link add ikb-vl netns $L type veth peer name ikb-vr netns $R
    ip -n $L addr add $LO/24 dev ikb-vl
    ip -n $R addr add $RO/24 dev ikb-vr
    for n in $L $R; do ip -n $n link set lo up; done
    ip -n $L link set ikb-vl up
    ip -n $R link set ikb-vr up
    ip -n $L addr add $LI/32 dev lo
    ip -n $R addr add $RI/32 dev lo
}

hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# CPU seconds (user + system, all threads) of a process so far.
cpu() {
    [ -r "/proc/$1/stat" ] || { echo 0; return; }
    python3 - "$1" <<'PY'
import os, sys
f = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()
print((int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK"))
PY
}

wait_ping() {
    for _ in $(seq 80); do
        ip netns exec $L ping -c1 -W1 -I $LI $RI >/dev/null 2>&1 && return 0
        sleep 0.25
    done
    return 1
}

# --- the gateways -----------------------------------------------------------------------------

ikegate_manual() { # $1 = raw|udp, $2 = gcm|cbc
    local nat=disable; [ "$1" = udp ] && nat=force
    local k1 k2 x1="" x2="" enc
    if [ "$2" = gcm ]; then
        enc=aes128-gcm; k1=$(hex 20); k2=$(hex 20)
    else
        enc=aes256; k1=$(hex 32); k2=$(hex 32)
        x1=", authentication: hmac-sha256, authentication-key: \"0x$(hex 32)\""
        x2=", authentication: hmac-sha256, authentication-key: \"0x$(hex 32)\""
    fi
    for side in l r; do
        local src=$LO dst=$RO out="spi: 0x1001, encryption: $enc, key: \"0x$k1\" $x1"
        local in="spi: 0x2002, encryption: $enc, key: \"0x$k2\" $x2" net=192.168.2.0/24
        if [ $side = r ]; then
            src=$RO dst=$LO net=192.168.1.0/24
            out="spi: 0x2002, encryption: $enc, key: \"0x$k2\" $x2"
            in="spi: 0x1001, encryption: $enc, key: \"0x$k1\" $x1"
        fi
        cat >"$WORK/$side.yaml" <<EOF
interfaces:
  ipsec0:
    ipv4: { source: $src, destination: $dst }
    nat-traversal: $nat
    manual-sa:
      outbound: { $out }
      inbound: { $in }
route:
  ipv4: [ { destination: $net, gateway: ipsec0 } ]
EOF
    done
    ip netns exec $L "$BIN" run --config "$WORK/l.yaml" >"$WORK/l.log" 2>&1 &
    GW_L=$!
    ip netns exec $R "$BIN" run --config "$WORK/r.yaml" >"$WORK/r.log" 2>&1 &
    GW_R=$!
    PIDS+=("$GW_L" "$GW_R")
}

charon_conf() { # $1 = dir, $2 = local, $3 = remote, $4 = local ts, $5 = remote ts
    local d
    for d in x509 x509ca x509ocsp x509aa x509ac x509crl pubkey private rsa ecdsa bliss pkcs8 pkcs12; do
        mkdir -p "$1/$d"
    done
    cat >"$1/strongswan.conf" <<EOF
charon {
  load = random nonce openssl aes sha1 sha2 md5 hmac gcm gmp kdf kernel-libipsec kernel-netlink socket-default vici
  install_routes = yes
  plugins { vici { socket = unix://$1/charon.vici } }
  filelog { bench { path = $1/charon.log
    default = 1 } }
  syslog { daemon { default = -1 } }
}
swanctl { load = random openssl pem pkcs1 x509
  socket = unix://$1/charon.vici }
EOF
    cat >"$1/swanctl.conf" <<EOF
connections {
  gw {
    version = 1
    local_addrs = $2
    remote_addrs = $3
    proposals = aes256-sha256-modp2048
    encap = yes
    local { auth = psk
      id = $2 }
    remote { auth = psk
      id = $3 }
    children {
      net {
        local_ts = $4
        remote_ts = $5
        esp_proposals = aes128gcm16
        mode = tunnel
        start_action = none
      }
    }
  }
}
secrets { ike-bench { secret = benchmark-psk-0123456789 } }
EOF
}

start_charon() { # $1 = netns, $2 = dir; sets CHARON_PID
    (cd "$2" && STRONGSWAN_CONF=$2/strongswan.conf exec ip netns exec "$1" unshare -m sh -c \
        "mount -t tmpfs tmpfs /run && exec $CHARON" >"$2/stdout" 2>&1) &
    CHARON_PID=$!
    PIDS+=("$CHARON_PID")
    for _ in $(seq 50); do
        STRONGSWAN_CONF=$2/strongswan.conf swanctl --stats --uri "unix://$2/charon.vici" \
            >/dev/null 2>&1 && break
        sleep 0.2
    done
    STRONGSWAN_CONF=$2/strongswan.conf swanctl --load-all --noprompt --file "$2/swanctl.conf" \
        --uri "unix://$2/charon.vici" >/dev/null || return 1
}

initiate_charon() { # $1 = dir
    STRONGSWAN_CONF=$1/strongswan.conf swanctl --initiate --child net --timeout 20 \
        --uri "unix://$1/charon.vici" >"$1/initiate.log" 2>&1
}

swan_swan() {
    command -v swanctl >/dev/null && [ -x $CHARON ] || return 1
    charon_conf "$WORK/sl" $LO $RO 192.168.1.0/24 192.168.2.0/24
    charon_conf "$WORK/sr" $RO $LO 192.168.2.0/24 192.168.1.0/24
    start_charon $L "$WORK/sl" || return 1; GW_L=$CHARON_PID
    start_charon $R "$WORK/sr" || return 1; GW_R=$CHARON_PID
    initiate_charon "$WORK/sl"
}

ikegate_swan() {
    command -v swanctl >/dev/null && [ -x $CHARON ] || return 1
    charon_conf "$WORK/sr" $RO $LO 192.168.2.0/24 192.168.1.0/24
    start_charon $R "$WORK/sr" || return 1; GW_R=$CHARON_PID
    cat >"$WORK/l.yaml" <<EOF
interfaces:
  ipsec0:
    ipv4: { source: $LO, destination: $RO }
    nat-traversal: enable
    preshared-key: benchmark-psk-0123456789
    ike:
      version: 1
      exchange-mode: main
      proposal:
        phase1: { encryption: [aes256], hash: [sha256], dh-group: modp2048 }
        phase2:
          proxy-id:
            ipv4: { local: 192.168.1.0/24, remote: 192.168.2.0/24 }
          encryption: [aes128-gcm]
route:
  ipv4: [ { destination: 192.168.2.0/24, gateway: ipsec0, source: $LI } ]
EOF
    ip netns exec $L "$BIN" run --config "$WORK/l.yaml" >"$WORK/l.log" 2>&1 &
    GW_L=$!
    PIDS+=("$GW_L")
}

wg_wg() {
    command -v wireguard-go >/dev/null && command -v wg >/dev/null || return 1
    local kl kr
    kl=$(wg genkey); kr=$(wg genkey)
    echo "$kl" >"$WORK/kl"; echo "$kr" >"$WORK/kr"
    local pl pr
    pl=$(echo "$kl" | wg pubkey); pr=$(echo "$kr" | wg pubkey)
    export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
    local bin=${WG_BIN:-wireguard-go}
    ip netns exec $L "$bin" -f ikbwgl >"$WORK/wgl.log" 2>&1 &
    GW_L=$!
    ip netns exec $R "$bin" -f ikbwgr >"$WORK/wgr.log" 2>&1 &
    GW_R=$!
    PIDS+=("$GW_L" "$GW_R")
    for _ in $(seq 50); do
        ip -n $L link show ikbwgl >/dev/null 2>&1 && ip -n $R link show ikbwgr >/dev/null 2>&1 && break
        sleep 0.1
    done
    ip netns exec $L wg set ikbwgl private-key "$WORK/kl" listen-port 51820 \
        peer "$pr" allowed-ips 192.168.2.0/24 endpoint $RO:51821 || return 1
    ip netns exec $R wg set ikbwgr private-key "$WORK/kr" listen-port 51821 \
        peer "$pl" allowed-ips 192.168.1.0/24 endpoint $LO:51820 || return 1
    ip -n $L link set ikbwgl up && ip -n $R link set ikbwgr up
    ip -n $L route add 192.168.2.0/24 dev ikbwgl src $LI
    ip -n $R route add 192.168.1.0/24 dev ikbwgr src $RI
}

# strongSwan 6.1 (sid chroot), IKEv2. $1 = dir, $2 = local, $3 = remote, $4/$5 = ts, $6 = raw|udp
charon61_conf() {
    mkdir -p "$1"
    local raw=no encap=yes
    [ "$6" = raw ] && raw=yes encap=no
    cat >"$1/strongswan.conf" <<EOF
charon {
  load = random nonce openssl aes sha1 sha2 hmac gcm kdf curve25519 kernel-libipsec kernel-netlink socket-default vici
  install_routes = yes
  plugins { vici { socket = unix:///run/ikegate/charon.vici }
    kernel-libipsec { raw_esp = $raw } }
  filelog { bench { path = /run/ikegate/charon.log
    default = 1 } }
  syslog { daemon { default = -1 } }
}
swanctl { socket = unix:///run/ikegate/charon.vici }
EOF
    cat >"$1/swanctl.conf" <<EOF
connections {
  gw {
    version = 2
    local_addrs = $2
    remote_addrs = $3
    proposals = aes256-sha256-x25519
    encap = $encap
    mobike = no
    local { auth = psk
      id = $2 }
    remote { auth = psk
      id = $3 }
    children {
      net {
        local_ts = $4
        remote_ts = $5
        esp_proposals = aes128gcm16
        mode = tunnel
        start_action = none
      }
    }
  }
}
secrets { ike-bench { secret = benchmark-psk-0123456789 } }
EOF
}

# The mounts giving the chroot a private /run with the bench's dir at /run/ikegate (as
# tests/common/charon does), then $2… in the chroot. $1 = dir.
in_sid() {
    local d=$1; shift
    unshare -m sh -c "set -e; mount -t tmpfs tmpfs $SID/run; mkdir $SID/run/ikegate; \
        mount --bind $d $SID/run/ikegate; mount --bind $d/strongswan.conf $SID/etc/strongswan.conf; \
        mount --bind $d/swanctl.conf $SID/etc/swanctl/swanctl.conf; $*"
}

start_charon61() { # $1 = netns, $2 = dir; sets CHARON_PID
    [ -x $SID/usr/lib/ipsec/charon ] || return 1
    (exec ip netns exec "$1" unshare -m sh -c "set -e; mount -t tmpfs tmpfs $SID/run; \
        mkdir $SID/run/ikegate; mount --bind $2 $SID/run/ikegate; \
        mount --bind $2/strongswan.conf $SID/etc/strongswan.conf; \
        mount --bind $2/swanctl.conf $SID/etc/swanctl/swanctl.conf; \
        mount -t proc proc $SID/proc; mount --bind /dev/net/tun $SID/dev/net/tun; \
        exec chroot $SID /usr/lib/ipsec/charon" >"$2/stdout" 2>&1) &
    CHARON_PID=$!
    PIDS+=("$CHARON_PID")
    for _ in $(seq 50); do
        [ -S "$2/charon.vici" ] && in_sid "$2" chroot $SID swanctl --stats >/dev/null 2>&1 && break
        sleep 0.2
    done
    in_sid "$2" chroot $SID swanctl --load-all --noprompt >/dev/null || return 1
}

ikegate_v2_conf() { # $1 = yaml path, $2 = local, $3 = remote, $4 = local net, $5 = remote net, $6 = raw|udp, $7 = inner src
    local nat=disable; [ "$6" = udp ] && nat=force
    cat >"$1" <<EOF
interfaces:
  ipsec0:
    ipv4: { source: $2, destination: $3 }
    nat-traversal: $nat
    preshared-key: benchmark-psk-0123456789
    ike:
      version: 2
      proposal:
        phase1: { encryption: [aes256], hash: [sha256], dh-group: curve25519 }
        phase2:
          proxy-id:
            ipv4: { local: $4, remote: $5 }
          encryption: [aes128-gcm]
route:
  ipv4: [ { destination: $5, gateway: ipsec0, source: $7 } ]
EOF
}

ikegate_ike() { # $1 = raw|udp: ours ⇄ ours keyed by IKEv2 (PSK) instead of manual SAs, so the
    # packets take the path of a negotiated tunnel (its IKE task reads the TUN)
    ikegate_v2_conf "$WORK/l.yaml" $LO $RO 192.168.1.0/24 192.168.2.0/24 "$1" $LI
    ikegate_v2_conf "$WORK/r.yaml" $RO $LO 192.168.2.0/24 192.168.1.0/24 "$1" $RI
    sed -i 's/^    preshared-key: .*/&\n    responder-only: enable/' "$WORK/r.yaml"
    ip netns exec $R "$BIN" run --config "$WORK/r.yaml" >"$WORK/r.log" 2>&1 &
    GW_R=$!
    ip netns exec $L "$BIN" run --config "$WORK/l.yaml" >"$WORK/l.log" 2>&1 &
    GW_L=$!
    PIDS+=("$GW_L" "$GW_R")
}

ikegate_swan61() { # $1 = raw|udp: ikegate initiates to strongSwan 6.1
    charon61_conf "$WORK/sr" $RO $LO 192.168.2.0/24 192.168.1.0/24 "$1"
    start_charon61 $R "$WORK/sr" || return 1; GW_R=$CHARON_PID
    ikegate_v2_conf "$WORK/l.yaml" $LO $RO 192.168.1.0/24 192.168.2.0/24 "$1" $LI
    ip netns exec $L "$BIN" run --config "$WORK/l.yaml" >"$WORK/l.log" 2>&1 &
    GW_L=$!
    PIDS+=("$GW_L")
}

swan61_swan61() { # $1 = raw|udp
    charon61_conf "$WORK/sl" $LO $RO 192.168.1.0/24 192.168.2.0/24 "$1"
    charon61_conf "$WORK/sr" $RO $LO 192.168.2.0/24 192.168.1.0/24 "$1"
    start_charon61 $L "$WORK/sl" || return 1; GW_L=$CHARON_PID
    start_charon61 $R "$WORK/sr" || return 1; GW_R=$CHARON_PID
    in_sid "$WORK/sl" chroot $SID swanctl --initiate --child net --timeout 20 >"$WORK/sl/initiate.log" 2>&1
}

wg_new() { [ -n "$WG_NEW" ] && WG_BIN=$WG_NEW wg_wg; }

plain() {
    ip -n $L route add $RI/32 via $RO
    ip -n $R route add $LI/32 via $LO
    GW_L="" GW_R=""
}

# --- measuring --------------------------------------------------------------------------------

# iperf3 -J → "Mbit/s retransmits" (TCP) or "offered-Mbit/s received-Mbit/s loss%" (UDP).
parse() {
    python3 -c '
import json, sys
try:
    j = json.load(sys.stdin)
except Exception:
    print("- - -"); sys.exit()
e = j.get("end", {})
if "error" in j and not e.get("sum_received") and not e.get("sum"):
    print("- - -"); sys.exit()
if sys.argv[1] == "tcp":
    print("%.0f %d" % (e["sum_received"]["bits_per_second"] / 1e6, e["sum_sent"].get("retransmits", 0)))
else:
    s = e["sum"]
    rx = s["bits_per_second"] * (1 - s.get("lost_percent", 0) / 100) / 1e6
    print("%.0f %.0f %.3f" % (s["bits_per_second"] / 1e6, rx, s.get("lost_percent", 0)))
' "$1"
}

ROWS=()
row() { # $1 = name, $2 = setup function and args
    local name=$1; shift
    [[ "$name" =~ $ONLY ]] || return 0
    setup
    GW_L="" GW_R=""
    if ! "$@"; then
        ROWS+=("$name|skipped (setup failed or tools missing)")
        teardown; return 0
    fi
    if ! wait_ping; then
        ROWS+=("$name|tunnel did not come up (log tails on stderr)")
        tail -5 "$WORK"/*.log >&2 2>/dev/null
        teardown; return 0
    fi
    ip netns exec $R iperf3 -s -B $RI >/dev/null 2>&1 &
    PIDS+=($!)
    sleep 0.5
    local c0l c0r c1l c1r
    c0l=$(cpu "${GW_L:-0}"); c0r=$(cpu "${GW_R:-0}")
    local tcp1 tcp4 udp
    tcp1=$(ip netns exec $L iperf3 -c $RI -B $LI -t "$T" -J 2>/dev/null | parse tcp)
    sleep 0.5
    tcp4=$(ip netns exec $L iperf3 -c $RI -B $LI -t "$T" -P 4 -J 2>/dev/null | parse tcp)
    sleep 0.5
    udp=$(ip netns exec $L iperf3 -c $RI -B $LI -t "$T" -u -b "$UDP_RATE" -l $UDP_LEN -w 4M -J 2>/dev/null | parse udp)
    c1l=$(cpu "${GW_L:-0}"); c1r=$(cpu "${GW_R:-0}")
    local cl cr
    if [ -n "$GW_L" ]; then cl=$(python3 -c "print('%.1f' % ($c1l - $c0l))"); else cl=-; fi
    if [ -n "$GW_R" ]; then cr=$(python3 -c "print('%.1f' % ($c1r - $c0r))"); else cr=-; fi
    ROWS+=("$name|$tcp1|$tcp4|$udp|$cl|$cr")
    echo "  done: $name" >&2
    teardown
    # Which raw ESP send path ikegate took (packet socket or raw IP socket, and why), and its
    # drop counters (icv, replay, malformed …) when it stopped.
    for f in "$WORK"/*.log; do
        [ -f "$f" ] || continue
        grep -h "raw ESP .* → " "$f" | cut -c29- | sed 's/^/    /' >&2
        sed -n '/final counters/,$p' "$f" | grep -E "icv|replay|malformed|error" | sed 's/^/    /' >&2
    done
    rm -f "$WORK"/*.log
}

echo "ikegate throughput bench: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), T=${T}s" >&2
echo "peers: strongSwan $(charon --version 2>/dev/null || /usr/lib/ipsec/charon --version 2>/dev/null) and $SWAN61_VER (sid), wireguard-go $WG_OLD_VER and $WG_NEW_VER" >&2
row "plain veth (no tunnel)"               plain
row "ikegate⇄ikegate raw ESP aes128-gcm"   ikegate_manual raw gcm
row "ikegate⇄ikegate UDP-encap aes128-gcm" ikegate_manual udp gcm
row "ikegate⇄ikegate raw ESP aes256-cbc+sha256"   ikegate_manual raw cbc
row "ikegate⇄ikegate UDP-encap aes256-cbc+sha256" ikegate_manual udp cbc
row "ikegate⇄ikegate IKEv2 raw ESP aes128-gcm"   ikegate_ike raw
row "ikegate⇄ikegate IKEv2 UDP-encap aes128-gcm" ikegate_ike udp
row "ikegate⇄strongSwan 5.9 aes128-gcm (UDP)" ikegate_swan
row "strongSwan 5.9⇄5.9 aes128-gcm (UDP)" swan_swan
row "ikegate⇄strongSwan 6.1 raw ESP aes128-gcm" ikegate_swan61 raw
row "ikegate⇄strongSwan 6.1 UDP-encap aes128-gcm" ikegate_swan61 udp
row "strongSwan 6.1⇄6.1 raw ESP aes128-gcm" swan61_swan61 raw
row "strongSwan 6.1⇄6.1 UDP-encap aes128-gcm" swan61_swan61 udp
row "wireguard-go $WG_OLD_VER (Debian 12)"  wg_wg
row "wireguard-go $WG_NEW_VER (sid)"        wg_new

printf '%s\n' "${ROWS[@]}" | python3 -c '
import sys
rate, load, t = sys.argv[1], sys.argv[2], float(sys.argv[3])
rows = [l.rstrip("\n").split("|") for l in sys.stdin if l.strip()]
hdr = ["setup", "TCP×1 Mbit/s", "retr", "TCP×4 Mbit/s", "retr", "UDP %s offered→rx Mbit/s" % rate,
       "loss %", "CPU s L", "CPU s R", "CPU s/GB"]
def num(v):
    try: return float(v)
    except ValueError: return None
out = []
for r in rows:
    if len(r) < 6:
        out.append([r[0], r[1] if len(r) > 1 else ""] + [""] * 8); continue
    t1, t4, u = r[1].split(), r[2].split(), r[3].split()
    moved = sum(x or 0 for x in (num(t1[0]), num(t4[0]), num(u[1]) if len(u) > 2 else None))
    gb = moved * t / 8 / 1000
    cpu = sum(x or 0 for x in (num(r[4]), num(r[5])))
    per_gb = "%.2f" % (cpu / gb) if gb > 0 and cpu > 0 else "-"
    out.append([r[0], t1[0], t1[1] if len(t1) > 1 else "", t4[0], t4[1] if len(t4) > 1 else "",
                "%s→%s" % (u[0], u[1]) if len(u) > 2 else "-", u[2] if len(u) > 2 else "-", r[4], r[5], per_gb])
w = [max(len(str(x[i])) for x in out + [hdr]) for i in range(len(hdr))]
line = lambda x: "| " + " | ".join(str(v).ljust(w[i]) for i, v in enumerate(x)) + " |"
print(line(hdr)); print("|" + "|".join("-" * (n + 2) for n in w) + "|")
for x in out: print(line(x))
def tcp1(prefix, contains=""):
    for x in out:
        if x[0].startswith(prefix) and contains in x[0]:
            return num(x[1])
veth = tcp1("plain veth")
anchors = [("strongSwan 5.9⇄5.9", tcp1("strongSwan 5.9⇄5.9"))]
print()
for x in out:
    mine = x[0].startswith("ikegate⇄")
    if not mine: continue
    v = num(x[1])
    if v is None: continue
    mode = "raw ESP" if "raw ESP" in x[0] else "UDP"
    s61 = tcp1("strongSwan 6.1⇄6.1", "raw ESP" if mode == "raw ESP" else "UDP-encap")
    parts = []
    if s61: parts.append("%.2f× strongSwan 6.1⇄6.1 (%s)" % (v / s61, mode))
    for name, a in anchors:
        if a: parts.append("%.1f× %s" % (v / a, name))
    for x2 in out:
        if x2[0].startswith("wireguard-go"):
            a = num(x2[1])
            if a: parts.append("%.2f× %s" % (v / a, x2[0]))
    if veth: parts.append("%.0f %% of plain veth" % (100 * v / veth))
    print("%s TCP×1:\n    %s" % (x[0], "\n    ".join(parts)))
print("\n(one run each, %gs per iperf3 run; CPU s/GB = both gateways over the three runs; load average before the run: %s)" % (t, load))
' "$UDP_RATE" "$(cut -d' ' -f1-3 /proc/loadavg)" "$T"
