# Container image of the CRM: crm-server (default entrypoint), crm-command, crm-projector and
# crmctl, plus grpc-health-probe for HEALTHCHECK.
#
#   docker build -t crm .
#   docker run --rm -p 50051:50051 -v crm-data:/var/lib/crm -e CRM_INSECURE=true crm  # embedded log
#   docker run --rm --entrypoint crm-command -e CRM_KAFKA_BROKERS=kafka:9092 \
#     -e CRM_INSECURE=true crm                                                           # on Kafka
#
# The image listens on 0.0.0.0:50051, which without TLS takes CRM_INSECURE=true (plaintext for
# anyone who reaches the port); without either the process refuses to start and says so. TLS:
# mount the certificate and key and set CRM_TLS_CERT and CRM_TLS_KEY (docs/security.md).
#
# Without a Docker engine, scripts/image.sh builds it with podman (Debian base images made from
# Debian's own packages, ccache shared with the host's build; `--test` also runs it):
# docs/image.md. Plain `docker build` works as it is, only without the shared ccache.
#
# Everything comes from Debian 12 packages, as in scripts/install-deps.sh, except
# grpc-health-probe, a Go module built from the Go module proxy in the `probe` stage.
# docker-compose.yml runs the Kafka deployment; docs/kafka.md describes it.

# --- probe: grpc-health-probe --------------------------------------------------------------------
# The probe's current releases need Go 1.26. Debian 12 has Go 1.19, bookworm-backports Go 1.23,
# which fetches the toolchain that GOTOOLCHAIN names from the Go module proxy, like any module,
# checked against the checksum database. Static (CGO_ENABLED=0), so it runs anywhere.
FROM debian:bookworm AS probe
RUN echo 'deb http://deb.debian.org/debian bookworm-backports main' \
      >/etc/apt/sources.list.d/bookworm-backports.list \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      -t bookworm-backports golang-go ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ARG GRPC_HEALTH_PROBE_VERSION=v0.4.57
ARG GO_TOOLCHAIN=go1.26.8
ARG GOPROXY=https://proxy.golang.org,direct
# Behind a TLS-intercepting proxy, mount the host's CA bundle at /run/host-ca-certificates.crt
# (scripts/image.sh does: podman build --volume): used for this download, kept in no layer.
RUN if [ -s /run/host-ca-certificates.crt ]; then \
      export SSL_CERT_FILE=/run/host-ca-certificates.crt; \
    fi \
 && GOTOOLCHAIN="${GO_TOOLCHAIN}" GOPROXY="${GOPROXY}" GOPATH=/tmp/go GOBIN=/out CGO_ENABLED=0 \
      go install -trimpath \
        -ldflags "-s -w -X main.versionTag=${GRPC_HEALTH_PROBE_VERSION}" \
        "github.com/grpc-ecosystem/grpc-health-probe@${GRPC_HEALTH_PROBE_VERSION}" \
 && rm -rf /tmp/go /root/.cache \
 && /out/grpc-health-probe -version

# --- build ---------------------------------------------------------------------------------------
FROM debian:bookworm AS build

# scripts/install-deps.sh without the tools the image does not need (clang-format, docker-compose,
# python, Java/Maven/kcat for the dev broker). libgtest-dev and libgmock-dev stay: the top-level
# CMakeLists.txt configures tests/ (find_package(GTest) and the GTest::gmock targets), although no
# test is built here.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config ccache \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      librdkafka-dev librocksdb-dev libabsl-dev \
      libspdlog-dev libcli11-dev nlohmann-json3-dev prometheus-cpp-dev librhonabwy-dev libssl-dev \
      libgtest-dev libgmock-dev \
 && rm -rf /var/lib/apt/lists/*

# The same build type as scripts/build.sh (the flags the tests ran), stripped below. Compiles go
# through ccache in /ccache: scripts/image.sh mounts the host's ccache directory there (podman
# build --volume), so objects the host already compiled are hits; paths are hashed relative to
# /src (CCACHE_BASEDIR) and the working directory is not hashed (CCACHE_NOHASHDIR), which is what
# scripts/build.sh does too. ccache also hashes the locale variables, so scripts/image.sh passes
# the host's (unset unless passed). With plain `docker build` /ccache is an empty folder of this
# stage.
ARG BUILD_JOBS=2
ARG BUILD_TYPE=RelWithDebInfo
ARG LANG
ARG LC_ALL
ARG LC_CTYPE
ARG LC_MESSAGES
ENV CCACHE_DIR=/ccache CCACHE_BASEDIR=/src CCACHE_NOHASHDIR=true
WORKDIR /src
# The context is the sources the build needs and nothing else (.dockerignore is an allow-list), so
# changes to docs, scripts or the Python tests do not rebuild.
COPY . .
# The build tree is deleted in the same step: the layer keeps only /out (a rebuild starts from
# ccache, not from an old tree), so each build adds tens of MB to the image store, not a GB.
RUN export CCACHE_STATSLOG=/tmp/ccache-stats.log \
 && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE}" \
      -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache \
 && cmake --build build -j "${BUILD_JOBS}" \
      --target crm-server crm-command crm-projector crmctl crm_events_desc \
 && echo "ccache, this build:" && ccache --show-log-stats \
 && mkdir -p /out \
 && cp build/apps/crm_server/crm-server build/apps/crm_command/crm-command \
       build/apps/crm_projector/crm-projector build/apps/crmctl/crmctl /out/ \
 && strip --strip-unneeded /out/* \
 && cp build/crm-events.desc /out/ \
 && rm -rf build /tmp/ccache-stats.log

# --- runtime -------------------------------------------------------------------------------------
FROM debian:bookworm-slim

# The shared libraries the binaries link (readelf -d: NEEDED), by Debian package. RocksDB is linked
# statically (Debian's RocksDB CMake target is librocksdb.a), so librocksdb7.8 is not needed, but
# its compression libraries are. apt pulls the rest through Depends (libc-ares2, libre2-9, libssl3
# for gRPC; libsasl2-2, libssl3 for librdkafka; liborcania, libyder, libjansson4 for librhonabwy,
# the JWT verifier, which also uses libgnutls30 itself). tzdata: the IANA zones of the analytics
# reports' time_zone (absl::LoadTimeZone reads /usr/share/zoneinfo; the slim base has none).
# apt-get clean: a base image without
# Debian's docker-clean apt hook (as scripts/image.sh makes) would keep the downloaded packages.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 \
      librdkafka1 libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 \
      librhonabwy1.1 libgnutls30 \
      libsnappy1v5 liblz4-1 libzstd1 libbz2-1.0 zlib1g tzdata \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

# Non-root user; its home is the data directory (event log, command state, views).
RUN groupadd --system --gid 10001 crm \
 && useradd --system --uid 10001 --gid crm --home-dir /var/lib/crm --no-create-home \
      --shell /usr/sbin/nologin crm \
 && install -d -o crm -g crm -m 0750 /var/lib/crm

COPY --from=probe /out/grpc-health-probe /usr/local/bin/
COPY --from=build /out/crm-server /out/crm-command /out/crm-projector /out/crmctl \
                  /usr/local/bin/
# Descriptor set of the event protos (with imports), for protoc --decode and BI tools.
COPY --from=build /out/crm-events.desc /usr/share/crm/crm-events.desc

USER 10001:10001
WORKDIR /var/lib/crm
# No CRM_INSECURE here: serving plaintext beyond the container is a choice made where it runs.
ENV CRM_DATA_DIR=/var/lib/crm \
    CRM_LISTEN=0.0.0.0:50051
EXPOSE 50051
# Healthy while the overall health service ("") is SERVING: from the moment the process listens
# (after catching up with its log) until SIGTERM. The port is CRM_LISTEN's. An orchestrator that
# restarts unhealthy containers wants `-service=liveness` instead (NOT_SERVING only while every
# worker is stuck), as the Kubernetes manifests' livenessProbe does. Podman keeps HEALTHCHECK only
# in the docker image format (podman build --format docker; scripts/image.sh does).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD grpc-health-probe -addr="127.0.0.1:${CRM_LISTEN##*:}" -connect-timeout=2s -rpc-timeout=2s
# SIGTERM (docker stop) turns health NOT_SERVING, drains in-flight calls for
# CRM_SHUTDOWN_GRACE_SECONDS (default 20) and exits 0: give the container a longer stop timeout.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/crm-server"]
