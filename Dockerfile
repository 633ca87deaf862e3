# alertflow's container image: one static binary on a small non-root base.
#
#   docker build -t alertflow .
#   docker run --rm -e TEMPORAL_ADDRESS=temporal:7233 \
#     -e ALERTFLOW_SOURCE_TOKENS=gitlab=... -p 8080:8080 alertflow ingress
#
# The command picks the mode: serve (default: worker and intake in one
# process), ingress, or worker. Settings come from the environment; see
# .env.example and `docker run --rm alertflow --help`.

# The Go version matches go.mod's go line (app/compose_test.go
# checks it); GOTOOLCHAIN=local makes a mismatch fail instead of downloading
# another toolchain.
FROM golang:1.26.8-bookworm AS build
ENV CGO_ENABLED=0 GOTOOLCHAIN=local
WORKDIR /src
# Modules first, so that a code change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags "-s -w" -o /out/alertflow ./cmd/alertflow

# Alpine rather than distroless: its busybox wget gives the container a
# health check on /healthz. The base ships the CA bundle that HTTPS
# notifications (Slack, webhooks) need.
FROM alpine:3.23.3
RUN adduser -D -H -u 10001 -s /sbin/nologin alertflow
COPY --from=build /out/alertflow /alertflow
USER 10001:10001
EXPOSE 8080
# /healthz on the port of ALERTFLOW_LISTEN (default :8080), for plain
# `docker run`; docker-compose.yml states its own.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD listen="${ALERTFLOW_LISTEN:-:8080}"; wget -q -O /dev/null "http://127.0.0.1:${listen##*:}/healthz" || exit 1
# Under a container memory limit, set GOMEMLIMIT to about 80% of it (docs/limits.md).
ENTRYPOINT ["/alertflow"]
CMD ["serve"]
