# ikegate as a container (sidecar or per-node gateway): the container owns its TUN devices and
# does ESP in userspace, so the host needs no kernel XFRM support.
#
#   docker build -t ikegate .
#   docker run --cap-add NET_ADMIN --cap-add NET_RAW --device /dev/net/tun \
#       -v $PWD/config.yaml:/etc/ikegate/config.yaml:ro ikegate
#
# It runs as the unprivileged user ikegate (uid/gid 10001). The binary carries file
# capabilities (setcap below) so that this user holds exactly CAP_NET_ADMIN (TUN devices and
# routes), CAP_NET_RAW (raw ESP sockets) and CAP_NET_BIND_SERVICE (UDP 500/4500) when the
# container's bounding set allows them: Docker's default set has NET_RAW and NET_BIND_SERVICE,
# so only NET_ADMIN is added. tests/least_privilege.rs runs the same binary the same way (this
# user, these capabilities, these paths, the entrypoint and the HEALTHCHECK command below).

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY web ./web
COPY benches ./benches
COPY config.example.yaml ./
RUN cargo build --release --locked --bin ikegate

FROM debian:bookworm-slim
# curl: the HEALTHCHECK; libcap2-bin: setcap (purged below). Versions are not pinned (DL3008):
# bookworm's security updates replace the pinned versions and the build would break.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl libcap2-bin \
    && groupadd --system --gid 10001 ikegate \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/ikegate \
       --shell /usr/sbin/nologin ikegate \
    && install -d -o ikegate -g ikegate -m 0700 /var/lib/ikegate \
    && install -d -m 0755 /etc/ikegate \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/ikegate /usr/local/bin/ikegate
COPY deploy/docker/entrypoint.sh /usr/local/bin/ikegate-entrypoint
COPY config.example.yaml /etc/ikegate/config.example.yaml
RUN setcap cap_net_admin,cap_net_raw,cap_net_bind_service+ep /usr/local/bin/ikegate \
    && apt-get purge -y --auto-remove libcap2-bin
USER 10001:10001
# The admin API of the default configuration listens on 127.0.0.1:8080 (plain HTTP on
# loopback); /healthz needs no token.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["curl", "-fsS", "--max-time", "4", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/ikegate-entrypoint"]
