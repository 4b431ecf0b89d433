#!/bin/sh
# Runs fuzz targets one after the other under `nice -n 19`, each until 10 million executions or
# SECS seconds, and prints one Markdown row per target for CAMPAIGN.md (target, executions,
# seconds, exec/s, coverage, corpus, findings). Builds first (`cargo fuzz build -O`), then runs
# the built binaries directly, as `cargo fuzz run -O` does.
#
#   fuzz/campaign.sh 300 esp_open udp_encap …     # SECS, then targets (default: all)
set -eu
cd "$(dirname "$0")"
secs=${1:-1800}
shift || true
targets=${*:-$(sed -n 's/^name = "\(.*\)"/\1/p' Cargo.toml | grep -v ikegate-fuzz)}
[ -n "${SKIP_BUILD:-}" ] || cargo +nightly fuzz build -O >&2
bin=target/x86_64-unknown-linux-gnu/release
mkdir -p logs
for t in $targets; do
    mkdir -p "corpus/$t" "artifacts/$t"
    log="logs/$t.log"
    start=$(date +%s)
    nice -n 19 "$bin/$t" "corpus/$t" "seeds/$t" -runs=10000000 -max_total_time="$secs" \
        -max_len=2048 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" >"$log" 2>&1 && found=none || found="see $log"
    took=$(( $(date +%s) - start ))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    corp=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ls "artifacts/$t" | grep -q . && found="$(ls "artifacts/$t" | tr '\n' ' ')"
    echo "| \`$t\` | ${runs:-?} | $took s | ${rate:-?} | ${cov:-?} | ${corp:-?} | $found |"
done
