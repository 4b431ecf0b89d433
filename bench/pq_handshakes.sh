#!/usr/bin/env bash
# Post-quantum IKEv2 cost: ML-KEM keygen/encaps/decaps of the crate ikegate uses, and complete
# IKEv2 handshakes per second (two sans-IO engines in one process, one core) with and without
# ML-KEM additional key exchanges. Release build; N handshakes per case (default 300).
#
#     bench/pq_handshakes.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --example pq_handshakes
./target/release/examples/pq_handshakes "${1:-300}"
