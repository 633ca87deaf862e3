#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas to
# the server's version, with temporal-sql-tool and the schemas embedded in
# it: setup-schema -v 0.0 on a new database, then update-schema with
# postgresql/v12/temporal and postgresql/v12/visibility. Safe to run again:
# a database that exists is kept, and update-schema applies only what is
# missing. Run by `make cluster` (cluster/cluster.sh) and by the
# temporal-schema service of docker-compose.yml.
#
# Reads POSTGRES_SEEDS (host), DB_PORT (5432), POSTGRES_USER (temporal)
# and POSTGRES_PWD; TEMPORAL_SQL_TOOL is the tool's path. The password
# goes to the tool in its environment, not on its command line.
set -eu

tool="${TEMPORAL_SQL_TOOL:-temporal-sql-tool}"
export SQL_PLUGIN=postgres12
export SQL_HOST="${POSTGRES_SEEDS:?POSTGRES_SEEDS is not set}"
export SQL_PORT="${DB_PORT:-5432}"
export SQL_USER="${POSTGRES_USER:-temporal}"
export SQL_PASSWORD="${POSTGRES_PWD:?POSTGRES_PWD is not set}"
if [ "$SQL_PASSWORD" = "CHANGE-ME" ]; then
	echo "temporal-schema: POSTGRES_PASSWORD is still the placeholder CHANGE-ME of .env.example: set a real password in .env (openssl rand -hex 32)" >&2
	exit 1
fi

schema() { # database, embedded schema name
	if ! "$tool" --db "$1" create-database >/tmp/temporal-schema.$$ 2>&1; then
		if ! grep -q "already exists" /tmp/temporal-schema.$$; then
			cat /tmp/temporal-schema.$$ >&2
			rm -f /tmp/temporal-schema.$$
			echo "temporal-schema: could not create database $1" >&2
			exit 1
		fi
	fi
	rm -f /tmp/temporal-schema.$$
	# update-schema refuses a database that has no schema_version yet.
	if ! "$tool" --db "$1" update-schema --schema-name "$2" >/dev/null 2>&1; then
		"$tool" --db "$1" setup-schema -v 0.0
		"$tool" --db "$1" update-schema --schema-name "$2"
	fi
	echo "temporal-schema: database $1 is at the schema of $2"
}

schema temporal postgresql/v12/temporal
schema temporal_visibility postgresql/v12/visibility
