#!/usr/bin/env bash
# The whole test suite (what CI runs): formatting, lints, unit tests, and the end-to-end tests in
# network namespaces (real strongSwan, tshark-verified captures). Run as root; as another user the
# namespaced tests print why they skip.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
    ./scripts/setup-debian.sh
fi
export PATH="$HOME/.cargo/bin:/root/.cargo/bin:$PATH"
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked --all-targets
# Packaging: hadolint, kubernetes-validate, `ikegate check` of the manifests' configurations,
# systemd-analyze verify (root only: it bind-mounts in a private mount namespace).
if [ "$(id -u)" = 0 ]; then
    ./scripts/check-packaging.sh
fi
