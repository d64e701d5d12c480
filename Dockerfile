# artifact-watch: one image for every role (ingest, scrub, policy, alerts,
# backfill, console, migrate); the Helm chart only changes its arguments.
#
#   scripts/image                      builds it here with buildah (see there)
#   docker build -t artifact-watch .   elsewhere, as usual (or podman build)
#
# Two stages on Debian bookworm: the build stage has the -dev packages and the
# toolchain; the runtime stage only the shared libraries the binary links,
# CA certificates, and a non-root user. Nothing at run time needs a shell.

ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev cmake ninja-build pkg-config \
      librdkafka-dev libcurl4-openssl-dev libjansson-dev libpq-dev libssl-dev \
      libyaml-dev libmicrohttpd-dev libxml2-dev libgraphviz-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmd cmd
COPY common common
COPY indexer indexer
COPY ingest ingest
COPY backfill backfill
COPY policy policy
COPY integrity integrity
COPY console console
COPY mlflow mlflow
COPY sql sql
COPY bench bench
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
 && ninja -C /build artifact-watch \
 && strip --strip-unneeded -o /artifact-watch /build/artifact-watch \
 && /artifact-watch version

FROM ${DEBIAN_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="artifact-watch" \
      org.opencontainers.image.description="Keeps ML and data artifacts in object storage under control: SHA-256 of every object, lineage in PostgreSQL, scrub, retention, alerts" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="debian:bookworm-slim"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates librdkafka1 libcurl4 libjansson4 libpq5 libssl3 libyaml-0-2 \
      libmicrohttpd12 libxml2 libgvc6 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/* \
 && echo 'aw:x:10001:10001:artifact-watch:/nonexistent:/usr/sbin/nologin' >>/etc/passwd \
 && echo 'aw:x:10001:' >>/etc/group
COPY --from=build /artifact-watch /usr/bin/artifact-watch
USER 10001:10001
ENTRYPOINT ["/usr/bin/artifact-watch"]
CMD ["--help"]
