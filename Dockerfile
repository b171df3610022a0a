# The dualsync image: the operator command line (`dualsync`: capture, check, install-triggers,
# dlq) and the two consumers, with the project's mappings and connector configurations.
# Used by docker-compose.yml; `docker build -t dualsync .` builds it alone.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p dualsync-cli -p dualsync-consumer

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/dualsync /src/target/release/legacy-to-revamp \
    /src/target/release/revamp-to-legacy /usr/local/bin/
COPY mappings /etc/dualsync/mappings
COPY debezium /etc/dualsync/debezium
USER nobody
