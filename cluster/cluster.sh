#!/usr/bin/env bash
# The production topology on one host, without Docker: PostgreSQL (a
# throwaway initdb), the Temporal server with SQL visibility, the namespace
# with retention, two `alertflow worker` and two `alertflow ingress`.
#
#   cluster/cluster.sh start        start all of it (make cluster)
#   cluster/cluster.sh stop         stop all of it, by PID (make cluster-stop)
#   cluster/cluster.sh destroy      stop it and delete its data
#   cluster/cluster.sh status       what runs
#   cluster/cluster.sh stop-one NAME / start-one NAME
#                                   one process: temporal, ui, worker1, worker2,
#                                   ingress1, ingress2 (the fault test uses these)
#   cluster/cluster.sh kill-one NAME
#                                   SIGKILL, as a crash would
#
# The Temporal server runs deploy/temporal-server.yaml and its schemas come
# from deploy/temporal-schema.sh, as in docker-compose.yml.
#
# Settings (environment): CLUSTER_DIR (data/cluster) holds every file and
# PID; CLUSTER_PORT_BASE (17300) is the first of the 15 ports it uses on
# 127.0.0.1: PostgreSQL on it, the Temporal server's on the next nine
# (frontend on +1), the Web UI on +10, the two ingresses on +11 and +12,
# the two workers' health on +13 and +14. Everything alertflow reads
# (ALERTFLOW_*, TEMPORAL_NAMESPACE) passes through to its processes; ALERTFLOW_SOURCE_TOKENS and
# ALERTFLOW_API_TOKEN are made up once and kept in $CLUSTER_DIR/tokens
# (mode 0600) unless given.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/bin"
dir="${CLUSTER_DIR:-$root/data/cluster}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
base="${CLUSTER_PORT_BASE:-17300}"
# Temporal keeps its membership ports in a smallint column.
if ! [ "$base" -ge 1024 ] 2>/dev/null || [ "$base" -gt 32750 ]; then
	echo "cluster: CLUSTER_PORT_BASE=$base: want a port from 1024 to 32750 (Temporal stores its ports as smallint)" >&2
	exit 2
fi
ns="${TEMPORAL_NAMESPACE:-default}"
retention="${ALERTFLOW_RETENTION:-720h}"
pgbin="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"

pg_port=$base
frontend_port=$((base + 1))
ui_port=$((base + 10))
ingress1_port=$((base + 11))
ingress2_port=$((base + 12))
worker1_port=$((base + 13))
worker2_port=$((base + 14))
frontend="127.0.0.1:$frontend_port"

# fd 3 is stderr even where a check's own output is thrown away.
exec 3>&2
say() { echo "cluster: $*" >&3; }
die() { say "$*"; exit 1; }

alive() { [ -f "$dir/$1.pid" ] && kill -0 "$(cat "$dir/$1.pid")" 2>/dev/null; }

# wait_until SECONDS WHAT CMD...: poll CMD every 0.2 s until it succeeds.
wait_until() {
	local limit=$1 what=$2 start=$SECONDS
	shift 2
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS - start >= limit)); then
			die "$what not ready after ${limit}s"
		fi
		sleep 0.2
	done
}

as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# --- PostgreSQL ---------------------------------------------------------

pg_data() {
	# PostgreSQL refuses to run as root, and the user it runs as must reach
	# its data directory: as root that is a directory of its own under
	# /tmp, recorded here.
	if [ ! -f "$dir/pgdata.path" ]; then
		local d
		if [ "$(id -u)" = 0 ]; then
			d="$(mktemp -d /tmp/alertflow-cluster-pg.XXXXXX)"
			chown postgres: "$d"
		else
			d="$dir/pg"
			mkdir -p "$d"
		fi
		echo "$d" >"$dir/pgdata.path"
	fi
	cat "$dir/pgdata.path"
}

start_postgres() {
	[ -x "$pgbin/initdb" ] || die "PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin): make cluster installs it as root, or apt-get install postgresql"
	local data
	data="$(pg_data)"
	umask 077
	[ -f "$dir/pg.password" ] || secret >"$dir/pg.password"
	umask 022
	if [ ! -f "$data/PG_VERSION" ]; then
		local pw
		pw="$(mktemp)"
		cp "$dir/pg.password" "$pw"
		[ "$(id -u)" = 0 ] && chown postgres: "$pw"
		as_pg "$pgbin/initdb" -D "$data" -U temporal --pwfile="$pw" --auth=scram-sha-256 -E UTF8 >"$dir/initdb.log" 2>&1 ||
			{ rm -f "$pw"; die "initdb failed, see $dir/initdb.log"; }
		rm -f "$pw"
	fi
	if alive postgres; then return; fi
	# Sockets only on 127.0.0.1 TCP and in the data directory.
	as_pg "$pgbin/pg_ctl" -D "$data" -l "$data/postgres.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $pg_port -c unix_socket_directories=$data -c max_connections=200" start >/dev/null 3>&- ||
		die "PostgreSQL did not start, see $data/postgres.log"
	head -1 "$data/postmaster.pid" >"$dir/postgres.pid"
	say "PostgreSQL ($("$pgbin/postgres" --version | awk '{print $3}')) on 127.0.0.1:$pg_port, data in $data"
}

stop_postgres() {
	[ -f "$dir/pgdata.path" ] || return 0
	local data
	data="$(cat "$dir/pgdata.path")"
	if alive postgres; then
		as_pg "$pgbin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null || kill "$(cat "$dir/postgres.pid")"
	fi
	rm -f "$dir/postgres.pid"
}

# Temporal's settings, for deploy/temporal-server.yaml and
# deploy/temporal-schema.sh; the password only ever in the environment.
temporal_env() {
	export POSTGRES_SEEDS=127.0.0.1 DB_PORT="$pg_port" POSTGRES_USER=temporal
	POSTGRES_PWD="$(cat "$dir/pg.password")"
	export POSTGRES_PWD
	export TEMPORAL_BIND_IP=127.0.0.1 TEMPORAL_PORT_BASE="$frontend_port"
	export TEMPORAL_DYNAMIC_CONFIG="$root/deploy/temporal-dynamicconfig.yaml"
	export TEMPORAL_SQL_TOOL="$bin/temporal-sql-tool"
}

setup_schemas() {
	(temporal_env && sh "$root/deploy/temporal-schema.sh") >>"$dir/schema.log" 2>&1 ||
		die "schema set-up failed, see $dir/schema.log"
	say "schemas of temporal and temporal_visibility up to date"
}

healthy() {
	alive temporal || die "the Temporal server exited; see $dir/temporal.log"
	"$bin/temporal" operator cluster health --address "$frontend" | grep -q SERVING
}

start_temporal() {
	alive temporal && return 0
	(temporal_env && exec "$bin/temporal-server" --config-file "$root/deploy/temporal-server.yaml" --allow-no-auth start) >>"$dir/temporal.log" 2>&1 3>&- &
	echo $! >"$dir/temporal.pid"
	wait_until 120 "Temporal server (log in $dir/temporal.log)" healthy
	say "Temporal server $("$bin/temporal-server" --version 2>/dev/null | awk '{print $NF}') on $frontend (pid $(cat "$dir/temporal.pid"))"
}

setup_namespace() {
	PATH="$bin:$PATH" TEMPORAL_ADDRESS="$frontend" TEMPORAL_NAMESPACE="$ns" ALERTFLOW_RETENTION="$retention" \
		NAMESPACE_SETUP_ATTEMPTS=60 sh "$root/deploy/temporal-namespace.sh" >>"$dir/namespace.log" 2>&1 ||
		die "namespace set-up failed, see $dir/namespace.log"
}

# --- alertflow --------------------------------------------------------------

# The Web UI, when bin/temporal-ui is built (make cluster builds it from
# cluster/webui): the UI server the temporal CLI embeds, pointed at this
# frontend.
start_ui() {
	[ -x "$bin/temporal-ui" ] || return 0
	alive ui && return 0
	"$bin/temporal-ui" -frontend "$frontend" -listen "127.0.0.1:$ui_port" -namespace "$ns" >>"$dir/ui.log" 2>&1 3>&- &
	echo $! >"$dir/ui.pid"
	wait_until 30 "the Web UI (log in $dir/ui.log)" ui_up
}

ui_up() {
	alive ui || die "the Web UI exited; see $dir/ui.log"
	curl -fsS -o /dev/null "http://127.0.0.1:$ui_port/"
}

tokens() {
	if [ ! -f "$dir/tokens" ]; then
		umask 077
		printf 'source=%s\napi=%s\n' "$(secret)" "$(secret)" >"$dir/tokens"
		umask 022
	fi
	source_token="$(sed -n 's/^source=//p' "$dir/tokens")"
	api_token="$(sed -n 's/^api=//p' "$dir/tokens")"
	sources="${ALERTFLOW_SOURCE_TOKENS:-gitlab=$source_token}"
	api="${ALERTFLOW_API_TOKEN:-$api_token}"
}

port_of() {
	case "$1" in
	worker1) echo "$worker1_port" ;;
	worker2) echo "$worker2_port" ;;
	ingress1) echo "$ingress1_port" ;;
	ingress2) echo "$ingress2_port" ;;
	*) die "no process $1" ;;
	esac
}

ready() {
	alive "$2" || die "$2 exited; see $dir/$2.log"
	curl -fsS "http://127.0.0.1:$1/readyz"
}

start_alertflow() {
	local name=$1 port mode
	port="$(port_of "$name")"
	mode="${name%[0-9]}"
	alive "$name" && return 0
	tokens
	TEMPORAL_ADDRESS="$frontend" TEMPORAL_NAMESPACE="$ns" ALERTFLOW_LISTEN="127.0.0.1:$port" \
		ALERTFLOW_SOURCE_TOKENS="$sources" ALERTFLOW_API_TOKEN="$api" \
		"$bin/alertflow" "$mode" >>"$dir/$name.log" 2>&1 3>&- &
	echo $! >"$dir/$name.pid"
	wait_until 60 "$name (log in $dir/$name.log)" ready "$port" "$name"
}

stop_pid() {
	local name=$1 sig=${2:-TERM} pid
	[ -f "$dir/$name.pid" ] || return 0
	pid="$(cat "$dir/$name.pid")"
	if kill -0 "$pid" 2>/dev/null; then
		say "stopping $name (pid $pid)"
		kill -"$sig" "$pid" 2>/dev/null || true
		local start=$SECONDS
		while kill -0 "$pid" 2>/dev/null; do
			if ((SECONDS - start >= 30)); then
				say "$name (pid $pid) did not stop in 30s; killing it"
				kill -KILL "$pid" 2>/dev/null || true
			fi
			sleep 0.1
		done
	fi
	rm -f "$dir/$name.pid"
}

start_one() {
	case "$1" in
	temporal) start_temporal ;;
	ui) start_ui ;;
	*) start_alertflow "$1" ;;
	esac
}

print_banner() {
	tokens
	local base_url="http://localhost:$ingress1_port" ui_line
	if alive ui; then
		ui_line="http://localhost:$ui_port/namespaces/$ns/workflows"
	else
		ui_line="not built (make cluster builds bin/temporal-ui); bin/temporal workflow list --address $frontend"
	fi
	cat <<EOF

alertflow cluster is running (PostgreSQL, Temporal server, Web UI, 2 workers, 2 ingresses).
  Temporal frontend:   $frontend (namespace $ns)
  Temporal Web UI:     $ui_line
  GitLab webhook URL:  $base_url/webhooks/gitlab?token=$source_token
                       (second ingress: http://localhost:$ingress2_port)
  REST API:            curl -H 'Authorization: Bearer $api' $base_url/api/v1/alerts
  Health:              $base_url/healthz
  Logs and PIDs:       $dir

Stop it with: make cluster-stop

EOF
}

cmd="${1:-}"
case "$cmd" in
start)
	for b in temporal temporal-server temporal-sql-tool alertflow; do
		[ -x "$bin/$b" ] || die "$bin/$b is missing: run make cluster, which builds it"
	done
	say "starting PostgreSQL, the Temporal server, the Web UI, 2 workers and 2 ingresses: usually 20 to 40 s"
	start_postgres
	setup_schemas
	start_temporal
	setup_namespace
	start_ui
	for p in worker1 worker2 ingress1 ingress2; do start_alertflow "$p"; done
	print_banner
	;;
stop)
	say "stopping the ingresses and workers (each drains first), the Web UI, the Temporal server and PostgreSQL: usually 10 to 15 s"
	for p in ingress1 ingress2 worker1 worker2 ui temporal; do stop_pid "$p"; done
	stop_postgres
	say "stopped"
	;;
destroy)
	# stop, then delete the data: PostgreSQL's directory and $CLUSTER_DIR.
	for p in ingress1 ingress2 worker1 worker2 ui temporal; do stop_pid "$p"; done
	stop_postgres
	if [ -f "$dir/pgdata.path" ]; then rm -rf "$(cat "$dir/pgdata.path")"; fi
	rm -rf "$dir"
	say "stopped and deleted"
	;;
status)
	for p in postgres temporal ui worker1 worker2 ingress1 ingress2; do
		if alive "$p"; then echo "$p running (pid $(cat "$dir/$p.pid"))"; else echo "$p stopped"; fi
	done
	;;
start-one) start_one "${2:?name}" ;;
stop-one) stop_pid "${2:?name}" ;;
kill-one) stop_pid "${2:?name}" KILL ;;
*)
	sed -n '2,20p' "$0" >&2
	exit 2
	;;
esac
