# Container image of the CRM: crm-server (default entrypoint), crm-command and crm-projector.
#
#   docker build -t crm .
#   docker run --rm -p 50051:50051 -v crm-data:/var/lib/crm crm                 # embedded log
#   docker run --rm --entrypoint crm-command -e CRM_KAFKA_BROKERS=kafka:9092 crm  # on Kafka
#
# Everything comes from Debian 12 packages, as in scripts/install-deps.sh. docker-compose.yml
# runs the Kafka deployment; docs/kafka.md describes it.

# --- build ---------------------------------------------------------------------------------------
FROM debian:bookworm AS build

# scripts/install-deps.sh without the tools the image does not need (clang-format, docker-compose,
# python, Java/Maven/kcat for the dev broker). libgtest-dev and libgmock-dev stay: the top-level
# CMakeLists.txt configures tests/ (find_package(GTest) and the GTest::gmock targets), although no
# test is built here.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      librdkafka-dev librocksdb-dev libabsl-dev \
      libspdlog-dev libcli11-dev nlohmann-json3-dev prometheus-cpp-dev librhonabwy-dev libssl-dev \
      libgtest-dev libgmock-dev \
 && rm -rf /var/lib/apt/lists/*

ARG BUILD_JOBS=2
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build -j "${BUILD_JOBS}" \
      --target crm-server crm-command crm-projector crm_events_desc

# --- runtime -------------------------------------------------------------------------------------
FROM debian:bookworm-slim

# The shared libraries the binaries link (readelf -d: NEEDED), by Debian package. RocksDB is linked
# statically (Debian's RocksDB CMake target is librocksdb.a), so librocksdb7.8 is not needed, but
# its compression libraries are. apt pulls the rest through Depends (libc-ares2, libre2-9, libssl3
# for gRPC; libsasl2-2, libssl3 for librdkafka; liborcania, libyder, libjansson4 for librhonabwy,
# the JWT verifier, which also uses libgnutls30 itself).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 \
      librdkafka1 libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 \
      librhonabwy1.1 libgnutls30 \
      libsnappy1v5 liblz4-1 libzstd1 libbz2-1.0 zlib1g \
 && rm -rf /var/lib/apt/lists/*

# Non-root user; its home is the data directory (event log, command state, views).
RUN groupadd --system --gid 10001 crm \
 && useradd --system --uid 10001 --gid crm --home-dir /var/lib/crm --no-create-home \
      --shell /usr/sbin/nologin crm \
 && install -d -o crm -g crm -m 0750 /var/lib/crm

COPY --from=build /src/build/apps/crm_server/crm-server \
                  /src/build/apps/crm_command/crm-command \
                  /src/build/apps/crm_projector/crm-projector \
                  /usr/local/bin/
# Descriptor set of the event protos (with imports), for protoc --decode and BI tools.
COPY --from=build /src/build/crm-events.desc /usr/share/crm/crm-events.desc

USER 10001:10001
WORKDIR /var/lib/crm
ENV CRM_DATA_DIR=/var/lib/crm \
    CRM_LISTEN=0.0.0.0:50051
EXPOSE 50051
# No HEALTHCHECK: the image has no gRPC health client (grpc_health_probe is not packaged in
# Debian). The binaries serve grpc.health.v1; Kubernetes checks it with native gRPC probes
# (livenessProbe/readinessProbe: grpc: {port: 50051}).
# SIGTERM (docker stop) turns health NOT_SERVING, drains in-flight calls for
# CRM_SHUTDOWN_GRACE_SECONDS (default 20) and exits 0: give the container a longer stop timeout.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/crm-server"]
