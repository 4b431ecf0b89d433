#!/bin/sh
# Interop harness: ikegate's IKE engine (namespace ike-ours, 10.77.0.1) against strongSwan's
# charon (namespace ike-swan, 10.77.0.2) over a veth pair. Run as root.
#
#   examples/ike_interop.sh up                    namespaces + veth
#   examples/ike_interop.sh swan FILE             (re)start charon with swanctl.conf FILE loaded
#   examples/ike_interop.sh ours ARGS...          run the driver (cargo example) in ike-ours
#   examples/ike_interop.sh swanctl ARGS...       swanctl against our charon (e.g. --initiate --child net)
#   examples/ike_interop.sh xfrm                  charon's kernel SAs (keys) in ike-swan
#   examples/ike_interop.sh log                   charon's log
#   examples/ike_interop.sh stop | down           stop charon | also remove the namespaces
#   examples/ike_interop.sh conf IKE ESP LTS RTS [PSK]   write $WORK/gen.conf (connection "seil",
#                                                 child "net"; LTS/RTS are charon's side)
#   examples/ike_interop.sh matrix                every interop scenario, with a summary
#
# charon gets its own mount namespace (tmpfs on /run for its pid file) and a strongswan.conf
# via STRONGSWAN_CONF; the vici socket lives in $WORK, so several helpers can run charons at
# once. It uses kernel-netlink inside the namespace, so `ip xfrm state` shows the keys it
# derived, to compare with the driver's ChildSaUp (--print-keys).
set -eu
WORK=${IKE_INTEROP_WORK:-/tmp/ike-interop}
NS_OURS=ike-ours
NS_SWAN=ike-swan
VICI="unix://$WORK/charon.vici"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$WORK"

write_conf() {
    cat > "$WORK/strongswan.conf" <<CONF
charon {
    load_modular = no
    load = random nonce openssl pem pkcs1 x509 revocation constraints pubkey aes sha1 sha2 md5 hmac gmp gcm kernel-libipsec kernel-netlink socket-default updown vici
    install_routes = no
    retransmit_tries = 3
    filelog {
        ike {
            path = $WORK/charon.log
            time_format = %T
            default = 1
            ike = 2
            cfg = 2
            enc = 1
            chd = 4
            knl = 2
            esp = 4
            flush_line = yes
        }
    }
    plugins {
        vici {
            socket = $VICI
        }
    }
}
swanctl {
    load = pem pkcs1 x509 revocation constraints pubkey openssl random
}
CONF
}

swanctl_() {
    cmd=$1
    shift
    STRONGSWAN_CONF="$WORK/strongswan.conf" swanctl "$cmd" --uri "$VICI" "$@"
}

gen_conf() {
    cat > "$WORK/gen.conf" <<CONF
connections {
    seil {
        version = 1
        local_addrs = 10.77.0.2
        remote_addrs = 10.77.0.1
        proposals = $1
        encap = yes
        rekey_time = 0
        local {
            auth = psk
            id = 10.77.0.2
        }
        remote {
            auth = psk
            id = 10.77.0.1
        }
        children {
            net {
                local_ts = $3
                remote_ts = $4
                esp_proposals = $2
                mode = tunnel
                rekey_time = 0
            }
        }
    }
}
secrets {
    ike-seil {
        id-a = 10.77.0.1
        id-b = 10.77.0.2
        secret = "${5:-xeeB5gohvaYi}"
    }
}
CONF
}

# scenario NAME WHO(ours|swan) SWAN_IKE SWAN_ESP SWAN_LTS SWAN_RTS SWAN_PSK EXPECT -- DRIVER ARGS...
# EXPECT is a fixed string that must appear in the driver's output.
scenario() {
    name=$1 who=$2 ike=$3 esp=$4 lts=$5 rts=$6 psk=$7 expect=$8
    shift 9
    gen_conf "$ike" "$esp" "$lts" "$rts" "$psk"
    "$0" swan "$WORK/gen.conf" >/dev/null 2>&1
    out="$WORK/out-$name.txt"
    common="--local 10.77.0.1 --remote 10.77.0.2 --psk xeeB5gohvaYi --charon-log $WORK/charon.log --print-keys"
    if [ "$who" = ours ]; then
        "$0" ours $common --initiate --seconds 12 --exit-after-children 1 "$@" >"$out" 2>"$out.log" || true
    else
        "$0" ours $common --responder-only --seconds 8 "$@" >"$out" 2>"$out.log" &
        sleep 1
        swanctl_ --initiate --child net --ike seil --timeout 6 >"$WORK/initiate-$name.txt" 2>&1 || true
        wait
    fi
    cp "$WORK/charon.log" "$WORK/charon-$name.log"
    if grep -qF -- "$expect" "$out"; then r=PASS; else r=FAIL; fi
    printf '%-28s %-4s %s\n' "$name" "$r" "$(grep -E 'Failed|KEYCHECK' "$out" | head -2 | tr '\n' ' ')"
}

matrix() {
    S=192.168.2.0/24 O=192.168.1.0/24 K=xeeB5gohvaYi
    OK="KEYCHECK ok"
    T="--local-ts $O --remote-ts $S"
    scenario ours-seil-defaults ours aes256-sha256-modp1536 aes256-sha256 $S $O $K "$OK" -- $T
    scenario swan-seil-defaults swan aes256-sha256-modp1536 aes256-sha256 $S $O $K "$OK" -- $T
    scenario ours-aes128-sha1-modp1024 ours aes128-sha1-modp1024 aes256-sha256 $S $O $K "$OK" -- $T --enc aes128 --hash sha1 --dh modp1024
    scenario swan-aes128-sha1-modp1024 swan aes128-sha1-modp1024 aes256-sha256 $S $O $K "$OK" -- $T --enc aes128 --hash sha1 --dh modp1024
    scenario ours-aes256-sha256-modp2048 ours aes256-sha256-modp2048 aes256-sha256 $S $O $K "$OK" -- $T --dh modp2048
    scenario swan-aes256-sha256-modp2048 swan aes256-sha256-modp2048 aes256-sha256 $S $O $K "$OK" -- $T --dh modp2048
    scenario ours-3des-sha1 ours 3des-sha1-modp1536 aes256-sha256 $S $O $K "$OK" -- $T
    scenario ours-esp-aes128gcm16 ours aes256-sha256-modp1536 aes128gcm16 $S $O $K "$OK" -- $T --esp-enc aes128-gcm
    scenario swan-esp-aes128gcm16 swan aes256-sha256-modp1536 aes128gcm16 $S $O $K "$OK" -- $T --esp-enc aes128-gcm
    scenario ours-esp-3des-sha1 ours aes256-sha256-modp1536 3des-sha1 $S $O $K "$OK" -- $T --esp-enc 3des --esp-auth hmac-sha1
    scenario swan-esp-3des-sha1 swan aes256-sha256-modp1536 3des-sha1 $S $O $K "$OK" -- $T --esp-enc 3des --esp-auth hmac-sha1
    scenario ours-pfs-modp2048 ours aes256-sha256-modp1536 aes256-sha256-modp2048 $S $O $K "$OK" -- $T --pfs modp2048
    scenario swan-pfs-modp2048 swan aes256-sha256-modp1536 aes256-sha256-modp2048 $S $O $K "$OK" -- $T --pfs modp2048
    scenario ours-nat-t-off ours aes256-sha256-modp1536 aes256-sha256 $S $O $K "udp_encap=None" -- $T --nat disable
    scenario ours-psk-mismatch ours aes256-sha256-modp1536 aes256-sha256 $S $O "$K-x" "pre-shared keys differ" -- $T
    scenario swan-psk-mismatch swan aes256-sha256-modp1536 aes256-sha256 $S $O "$K-x" "pre-shared keys differ" -- $T
    scenario ours-p1-mismatch ours aes256-sha256-modp1536 aes256-sha256 $S $O $K "phase 1 proposal mismatch" -- $T --enc aes256 --hash sha256 --dh modp1024
    scenario swan-p1-mismatch swan aes256-sha256-modp1024 aes256-sha256 $S $O $K "phase 1 proposal mismatch" -- $T
    scenario ours-p2-mismatch ours aes256-sha256-modp1536 aes256-sha256 $S $O $K "phase 2 proposal mismatch" -- $T --esp-enc aes256 --esp-auth hmac-md5
    scenario swan-p2-mismatch swan aes256-sha256-modp1536 aes256-md5 $S $O $K "phase 2 proposal mismatch" -- $T
    scenario ours-proxy-id-narrowed ours aes256-sha256-modp1536 aes256-sha256 $S $O $K "proxy-id mismatch" --
    scenario ours-proxy-id-rejected ours aes256-sha256-modp1536 aes256-sha256 192.168.3.0/24 $O $K "proxy-id mismatch" -- $T
    scenario swan-proxy-id-unknown swan aes256-sha256-modp1536 aes256-sha256 192.168.3.0/24 $O $K "proxy-id mismatch" -- $T
    scenario swan-default-proposals swan default default $S $O $K "$OK" -- $T --enc aes128 --hash sha256 --dh curve25519 --esp-enc aes128-gcm,aes128 --esp-auth hmac-sha256
    scenario ours-shutdown-deletes ours aes256-sha256-modp1536 aes256-sha256 $S $O $K "$OK" -- $T --exit-after-children 0 --seconds 6 --shutdown-after 3
    "$0" stop
}

case "${1:-}" in
conf)
    shift
    gen_conf "$@"
    echo "$WORK/gen.conf"
    ;;
matrix)
    matrix
    ;;
up)
    ip netns add $NS_OURS 2>/dev/null || true
    ip netns add $NS_SWAN 2>/dev/null || true
    ip -n $NS_OURS link show ike-v0 >/dev/null 2>&1 || {
        ip link add ike-v0 netns $NS_OURS type veth peer name ike-v1 netns $NS_SWAN
    }
    ip -n $NS_OURS addr replace 10.77.0.1/24 dev ike-v0
    ip -n $NS_SWAN addr replace 10.77.0.2/24 dev ike-v1
    # kernel-libipsec routes the remote subnet via a local address inside its selector
    ip -n $NS_SWAN addr replace 192.168.2.1/24 dev lo
    for ns in $NS_OURS $NS_SWAN; do
        ip -n $ns link set lo up
    done
    ip -n $NS_OURS link set ike-v0 up
    ip -n $NS_SWAN link set ike-v1 up
    ;;
swan)
    "$0" stop
    write_conf
    : > "$WORK/charon.log"
    ip netns exec $NS_SWAN ip xfrm state flush
    ip netns exec $NS_SWAN ip xfrm policy flush
    STRONGSWAN_CONF="$WORK/strongswan.conf" ip netns exec $NS_SWAN unshare -m sh -c \
        "mount -t tmpfs tmpfs /run && exec /usr/lib/ipsec/charon" >"$WORK/charon.out" 2>&1 &
    echo $! > "$WORK/charon.pid"
    i=0
    while [ ! -S "$WORK/charon.vici" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
    swanctl_ --load-all --file "$2"
    ;;
swanctl)
    shift
    swanctl_ "$@"
    ;;
ours)
    shift
    exe="$ROOT/target/debug/examples/ike_interop"
    [ -x "$exe" ] || (cd "$ROOT" && cargo build --example ike_interop)
    ip netns exec $NS_OURS "$exe" "$@"
    ;;
xfrm)
    ip netns exec $NS_SWAN ip xfrm state
    ;;
log)
    cat "$WORK/charon.log"
    ;;
stop)
    if [ -f "$WORK/charon.pid" ]; then
        kill "$(cat "$WORK/charon.pid")" 2>/dev/null || true
        sleep 0.5
        rm -f "$WORK/charon.pid" "$WORK/charon.vici"
    fi
    ;;
down)
    "$0" stop
    ip netns del $NS_OURS 2>/dev/null || true
    ip netns del $NS_SWAN 2>/dev/null || true
    ;;
*)
    sed -n '2,17p' "$0"
    exit 1
    ;;
esac
