# syntax=docker/dockerfile:1
# otelcol-mesh container image:  docker build -t otelcol-mesh:0.1.0 .
# The build stage runs `make build`, which builds the pinned ocb from
# tools/go.mod and compiles the distribution (static, CGO_ENABLED=0) from
# builder-config.yaml. The final image holds only the binary, CA certificates,
# the two shipped configurations and the gateway's queue directory, and runs
# as uid 10001.

FROM golang:1.26 AS build
WORKDIR /src
# Module downloads first, so that they stay cached while sources change.
COPY go.mod go.sum ./
COPY tools/go.mod tools/go.sum tools/
RUN --mount=type=cache,target=/root/go/pkg/mod \
    go mod download && cd tools && go mod download
COPY . .
RUN --mount=type=cache,target=/root/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    make build
# The persistent sending queue's default directory (journal_storage in
# configs/gateway.yaml), owned by the image's user: scratch has no mkdir.
RUN mkdir -p /out/queue

FROM scratch
ARG USER_UID=10001
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chmod=755 /src/_build/otelcol-mesh /otelcol-mesh
COPY configs/sidecar.yaml configs/gateway.yaml /etc/otelcol-mesh/
COPY --from=build --chown=${USER_UID}:${USER_UID} /out/queue /var/lib/otelcol-mesh
USER ${USER_UID}:${USER_UID}
# OTLP/gRPC, OTLP/HTTP, Zipkin, OpenCensus (Linkerd ≤2.17), health_check, internal metrics
EXPOSE 4317 4318 9411 55678 13133 8888
ENTRYPOINT ["/otelcol-mesh"]
CMD ["--config", "/etc/otelcol-mesh/gateway.yaml"]
