# syntax=docker/dockerfile:1
# The checkout in a container. Two stages: the build compiles with cgo (go-sqlite3 needs a C
# compiler), the runtime is distroless (glibc and CA certificates, no shell, no package manager)
# and runs as a non-root user with the database on the /data volume.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t banq-checkout .
#   docker build --build-arg RUN_TESTS=1 -t banq-checkout .    # run the tests in the build
#
# BuildKit (Docker's default builder) keeps Go's module and build caches between builds, so a
# change to the code neither downloads the modules again nor rebuilds sqlite3.
#
# The Go version follows go.mod; the build command is the Makefile's `build` target. The base
# images are pinned by digest, so a rebuild gets the same bytes; to move to newer ones, take the
# digests from `docker buildx imagetools inspect golang:<GO_VERSION>-bookworm` and
# `... gcr.io/distroless/base-debian12:nonroot` (the tag is then only a reminder).
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG RUN_TESTS=0
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    if [ "$RUN_TESTS" = "1" ]; then go test -tags sqlite_fts5 -count=1 ./...; fi
# The build context holds no .git for Go to read a revision from: the version is stamped.
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 go build -tags sqlite_fts5 -trimpath -ldflags "-X main.version=${VERSION}" -o /out/checkout . && mkdir -p /out/data

# Debian 12 like the build stage, so the binary finds the glibc it was linked against.
FROM gcr.io/distroless/base-debian12:nonroot@sha256:7f0c72cd138b442ae0deeb69c08b1acf5525439ba251a49ad93c320a061567e5 AS runtime
COPY --from=build /out/checkout /usr/local/bin/checkout
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
# No metrics listener by default: it would serve /metrics to the network without a token. Set
# CHECKOUT_METRICS_TOKEN (a secret: at run time, never here) to have /metrics on :8080 behind it,
# and CHECKOUT_METRICS_ADDR=:9090 too for a listener of its own.
ENV CHECKOUT_ADDR=:8080 \
    CHECKOUT_DB=/data/checkout.db \
    CHECKOUT_METRICS_ADDR=off \
    CHECKOUT_LOG_FORMAT=json
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/checkout", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/checkout"]
