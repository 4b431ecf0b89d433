#!/usr/bin/env bash
# One command for a newcomer: install what is needed, build, and run `ikegate demo` (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-debian.sh
export PATH="$HOME/.cargo/bin:/root/.cargo/bin:$PATH"
cargo build --release --locked
exec ./target/release/ikegate demo "$@"
