# The Temporal server of docker-compose.yml, built as `make cluster` builds
# it: the server v1.32.1 and its temporal-sql-tool from the Go module proxy,
# and the temporal CLI for health checks. This replaces the deprecated
# temporalio/auto-setup image; the schema and the namespace are set up by
# one-shot services (deploy/temporal-schema.sh, deploy/temporal-namespace.sh)
# and the server runs deploy/temporal-server.yaml. The first build takes
# about twenty minutes on two cores.
FROM golang:1.26.8-bookworm AS build
ENV CGO_ENABLED=0 GOTOOLCHAIN=local
RUN GOBIN=/out go install -trimpath -ldflags "-s -w" \
      go.temporal.io/server/cmd/server@v1.32.1 \
      go.temporal.io/server/cmd/tools/sql@v1.32.1 \
 && GOBIN=/out go install -trimpath -ldflags "-s -w" github.com/temporalio/cli/cmd/temporal@v1.5.1

FROM alpine:3.23.3
RUN adduser -D -H -u 10002 -s /sbin/nologin temporal
COPY --from=build /out/server /usr/local/bin/temporal-server
COPY --from=build /out/sql /usr/local/bin/temporal-sql-tool
COPY --from=build /out/temporal /usr/local/bin/temporal
# Its build context is deploy/.
COPY temporal-server.yaml temporal-dynamicconfig.yaml temporal-schema.sh /etc/temporal/
USER 10002:10002
ENV TEMPORAL_DYNAMIC_CONFIG=/etc/temporal/temporal-dynamicconfig.yaml
EXPOSE 7233
# Listens on every interface of the container and tells its peers the
# container's own address.
ENTRYPOINT ["sh", "-c", "TEMPORAL_BIND_IP=0.0.0.0 TEMPORAL_BROADCAST_IP=$(hostname -i | cut -d' ' -f1) exec temporal-server --config-file /etc/temporal/temporal-server.yaml --allow-no-auth start"]
