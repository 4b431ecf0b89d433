#!/bin/bash
# Raw ESP send paths side by side: bench/throughput.sh's raw ESP rows run N times with each
# path, alternating (socket, packet, ring, socket, …) so that a change in the machine's load
# hits all alike; then the median, min and max of each column per path.
#   socket: the raw IP socket (`IKEGATE_RAW_ESP_TX=socket`), sendmmsg of the whole batch
#   packet: an AF_PACKET socket with PACKET_QDISC_BYPASS, sendmmsg (the default)
#   ring:   an AF_PACKET socket with a PACKET_TX_RING (TPACKET_V2) and PACKET_QDISC_BYPASS
# PATHS (default "socket packet ring") picks and orders them.
# Run as root:   sudo bench/raw_esp_paths.sh
# Environment: N (rounds, default 5), T (seconds per iperf3 run, default 5), ONLY (a regex of
# throughput.sh's rows, default the ikegate⇄ikegate raw ESP AES-128-GCM row), NO_BUILD=1.
# Not a test: the numbers depend on the machine and its load.
set -u
N=${N:-5}
export T=${T:-5}
ONLY=${ONLY:-'ikegate⇄ikegate raw ESP aes128-gcm'}
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mktemp /tmp/ikegate-raw-esp-paths.XXXXXX)
trap 'rm -f "$OUT"' EXIT
if [ -z "${NO_BUILD:-}" ]; then
    (cd "$REPO" && cargo build --release --quiet) || { echo "cargo build --release failed" >&2; exit 1; }
fi
for i in $(seq "$N"); do
    for path in ${PATHS:-socket packet ring}; do
        echo "round $i/$N: $path (load $(cut -d' ' -f1 /proc/loadavg))" >&2
        IKEGATE_RAW_ESP_TX=$path NO_BUILD=1 ONLY="$ONLY" "$REPO/bench/throughput.sh" 2>/dev/null |
            grep '^| ikegate' | sed "s/^/$path/" >>"$OUT"
    done
done
python3 - "$OUT" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    path, rest = line.split("|", 1)
    cells = [c.strip() for c in rest.strip().strip("|").split("|")]
    rows.setdefault((cells[0], path), []).append(cells[1:])
def num(s):
    try: return float(s.split("→")[-1])
    except ValueError: return None
cols = ["TCP×1 Mbit/s", "TCP×4 Mbit/s", "UDP rx Mbit/s", "CPU s L", "CPU s R", "CPU s/GB"]
idx = [0, 2, 4, 6, 7, 8]
print("| setup | path | runs | " + " | ".join(c + " median (min–max)" for c in cols) + " |")
print("|---|---|---|" + "---|" * len(cols))
for (name, path), runs in sorted(rows.items()):
    out = []
    for i in idx:
        v = [num(r[i]) for r in runs if i < len(r) and num(r[i]) is not None]
        out.append("%g (%g–%g)" % (statistics.median(v), min(v), max(v)) if v else "-")
    print("| %s | %s | %d | %s |" % (name, path, len(runs), " | ".join(out)))
EOF
