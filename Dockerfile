# ikegate as a container sidecar: the container owns its TUN devices and does ESP in userspace,
# so it needs no kernel XFRM support on the host.
#
#   docker build -t ikegate .
#   docker run --cap-add NET_ADMIN --cap-add NET_RAW --device /dev/net/tun \
#       -v $PWD/config.yaml:/etc/ikegate/config.yaml:ro ikegate
#
# NET_ADMIN: create TUN devices and routes; NET_RAW: raw ESP (IP protocol 50) sockets.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY web ./web
COPY config.example.yaml ./
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates iproute2 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/ikegate /usr/local/bin/ikegate
COPY config.example.yaml /etc/ikegate/config.example.yaml
ENTRYPOINT ["/usr/local/bin/ikegate"]
CMD ["run", "--config", "/etc/ikegate/config.yaml"]
