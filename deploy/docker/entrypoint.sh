#!/bin/sh
# The container's entrypoint: validate the configuration (every error listed, exit 2), then
# run the gateway in the foreground as PID 1's only child. IKEGATE_CONFIG overrides the path.
set -eu
config="${IKEGATE_CONFIG:-/etc/ikegate/config.yaml}"
/usr/local/bin/ikegate check --config "$config"
exec /usr/local/bin/ikegate run --config "$config" "$@"
