# The checkout in a container. Two stages: the build compiles with cgo (go-sqlite3 needs a C
# compiler), the runtime is distroless (glibc and CA certificates, no shell, no package manager)
# and runs as a non-root user with the database on the /data volume.
#
#   docker build -t banq-checkout .
#   docker build --build-arg RUN_TESTS=1 -t banq-checkout .    # run the tests in the build
#
# The Go version follows go.mod; the build command is the Makefile's `build` target.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG RUN_TESTS=0
RUN if [ "$RUN_TESTS" = "1" ]; then go test -count=1 ./...; fi
RUN CGO_ENABLED=1 go build -trimpath -o /out/checkout . && mkdir -p /out/data

# Debian 12 like the build stage, so the binary finds the glibc it was linked against.
FROM gcr.io/distroless/base-debian12:nonroot AS runtime
COPY --from=build /out/checkout /usr/local/bin/checkout
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV CHECKOUT_ADDR=:8080 \
    CHECKOUT_DB=/data/checkout.db \
    CHECKOUT_METRICS_ADDR=:9090 \
    CHECKOUT_LOG_FORMAT=json
VOLUME /data
EXPOSE 8080 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/checkout", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/checkout"]
