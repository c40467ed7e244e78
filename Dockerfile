# Multi-stage build of the `executor` binary.
#   docker build -t flunq-executor .
#   docker run --rm -p 8083:8083 -e API_KEYS=change-me flunq-executor

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p flunq-executor-bin \
    && strip target/release/executor

FROM debian:bookworm-slim AS runtime
# ca-certificates is not needed for the bundled Mozilla roots, but keeps the image
# useful for debugging TLS; curl is not installed: the health check uses the binary's port.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates wget \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin executor
COPY --from=build /src/target/release/executor /usr/local/bin/executor
USER 10001:10001
ENV PORT=8083 LOG_FORMAT=json
EXPOSE 8083
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD wget -q -O /dev/null "http://127.0.0.1:${PORT}/healthz" || exit 1
ENTRYPOINT ["/usr/local/bin/executor"]
