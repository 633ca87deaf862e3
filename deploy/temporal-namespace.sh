#!/bin/sh
# One-shot set-up of the Temporal namespace alertflow's alerts live in, run by
# the temporal-namespace service of docker-compose.yml in the
# temporalio/admin-tools image (it has the temporal CLI), and by make cluster
# (cluster/cluster.sh) with bin/temporal.
#
# Creates TEMPORAL_NAMESPACE when it is missing, and sets its retention to
# ALERTFLOW_RETENTION either way: a resolved alert is a closed workflow, and
# the server deletes closed workflows once the retention has passed (a
# namespace created with defaults keeps them 72h). Safe to run again.
#
# Reads TEMPORAL_ADDRESS (host:port of the frontend), TEMPORAL_NAMESPACE and
# ALERTFLOW_RETENTION (a duration such as 720h).
set -eu

ns="${TEMPORAL_NAMESPACE:-default}"
retention="${ALERTFLOW_RETENTION:-720h}"
attempts="${NAMESPACE_SETUP_ATTEMPTS:-60}"

# The server reports healthy before it can serve every request; retry.
i=1
until temporal operator cluster health >/dev/null 2>&1; do
	if [ "$i" -ge "$attempts" ]; then
		echo "temporal-namespace: Temporal at ${TEMPORAL_ADDRESS:-?} did not answer after $attempts attempts" >&2
		exit 1
	fi
	i=$((i + 1))
	sleep 2
done

i=1
while :; do
	if temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
		action=update
	else
		action=create
	fi
	if [ "$action" = create ]; then
		temporal operator namespace create --namespace "$ns" --retention "$retention" \
			--description "alertflow: one workflow per alert" && break
	else
		temporal operator namespace update --namespace "$ns" --retention "$retention" && break
	fi
	if [ "$i" -ge "$attempts" ]; then
		echo "temporal-namespace: could not $action namespace $ns after $attempts attempts" >&2
		exit 1
	fi
	i=$((i + 1))
	sleep 2
done

# A new namespace reaches every part of the server a few seconds after it is
# created; the worker's search-attribute registration needs it there.
i=1
until temporal operator search-attribute list --namespace "$ns" >/dev/null 2>&1; do
	if [ "$i" -ge "$attempts" ]; then
		echo "temporal-namespace: namespace $ns not usable after $attempts attempts" >&2
		exit 1
	fi
	i=$((i + 1))
	sleep 2
done

temporal operator namespace describe --namespace "$ns"
echo "temporal-namespace: namespace $ns ready, retention $retention"
