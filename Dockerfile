# syntax=docker/dockerfile:1
# The tokenwatch image the Helm chart runs (helm/README.md):
#   docker build -t registry.example.com/tokenwatch:0.1.0 .
# Multi-stage: a Rust build stage, then a small Debian runtime with the binary alone, run as a
# non-root user. The IP database is not in the image: the chart's geoip init container fetches it
# at pod start (or mounts it from a volume), so the image stays small and the database current.

ARG RUST_VERSION=1.91

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
# librdkafka is built from source (gcc, make and libssl-dev come with the rust image).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin tokenwatch \
    && install -D -m 0755 target/release/tokenwatch /out/tokenwatch

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 tokenwatch \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/tokenwatch --no-create-home \
        --shell /usr/sbin/nologin tokenwatch \
    && install -d -o 10001 -g 10001 /var/lib/tokenwatch
COPY --from=build /out/tokenwatch /usr/local/bin/tokenwatch
USER 10001:10001
WORKDIR /var/lib/tokenwatch
# /metrics, /healthz, /readyz (server.listen)
EXPOSE 9464
ENTRYPOINT ["tokenwatch"]
CMD ["--help"]
