# Cortex Bridge: a static binary on a distroless base, running as a non-root user, with its
# SQLite database, audit log and digests' state under /data (a volume).
#   docker build -t cortex-bridge .
#   docker run -p 8080:8080 -v cortex-data:/data -e CORTEX_WEBHOOK_SECRET=… cortex-bridge
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/cortex-bridge ./cmd/cortex-bridge
# The runtime image has no shell to mkdir with: /data is made here and copied owned by nonroot
# (65532), so a named volume mounted there starts with that owner and the bridge can write.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cortex-bridge /usr/local/bin/cortex-bridge
COPY config.yaml /etc/cortex-bridge/config.yaml
COPY --from=build --chown=65532:65532 /out/data /data
ENV CORTEX_BRIDGE_CONFIG=/etc/cortex-bridge/config.yaml \
    CORTEX_BRIDGE_LISTEN=0.0.0.0:8080 \
    CORTEX_BRIDGE_DB=/data/cortex-bridge.db \
    CORTEX_BRIDGE_AUDIT_LOG=/data/audit.jsonl
VOLUME /data
EXPOSE 8080
USER nonroot:nonroot
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/cortex-bridge"]
CMD ["serve"]
