#!/bin/bash
# The remote-access outbound lookup per packet by number of connected clients (1 … 10,000):
# ns per lookup (benches/ra_lookup.rs, median of 7 timed runs) and instructions per lookup
# (callgrind, collecting only inside the bench's `lookups` function, so setup is not counted;
# instruction counts do not move with the machine's load, the ns do).
# Run:   bench/ra_lookup.sh            (builds the bench in the release profile first)
# Environment: ROUNDS (passes over the 4,096 packets under callgrind, default 20), NO_BUILD=1.
# Not a test: the ns depend on the machine and its load.
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-20}
PACKETS=4096
cd "$REPO"
if [ -z "${NO_BUILD:-}" ]; then
    cargo bench --bench ra_lookup --no-run --quiet 2>/dev/null
fi
BIN=$(ls -t target/release/deps/ra_lookup-* | grep -v '\.d$' | head -1)
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
declare -A NS
while IFS='|' read -r _ n ns _; do
    n=$(echo "$n" | tr -d ' '); ns=$(echo "$ns" | tr -d ' ')
    [[ "$n" =~ ^[0-9]+$ ]] && NS[$n]=$ns
done < <("$BIN" --bench)
OUT=$(mktemp -d /tmp/ikegate-ra-lookup.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
echo "| clients | ns per lookup | instructions per lookup |"
echo "|---:|---:|---:|"
for n in 1 10 100 1000 10000; do
    RA_LOOKUP_CLIENTS=$n RA_LOOKUP_ROUNDS=$ROUNDS valgrind --tool=callgrind \
        --toggle-collect='*ra_lookup::lookups*' --callgrind-out-file="$OUT/cg.$n" \
        "$BIN" >"$OUT/log.$n" 2>&1
    ir=$(grep -m1 '^summary:' "$OUT/cg.$n" | awk '{print $2}')
    per=$(awk -v ir="$ir" -v n=$((ROUNDS * PACKETS)) 'BEGIN { printf "%.1f", ir / n }')
    echo "| $n | ${NS[$n]:-?} | $per |"
done
