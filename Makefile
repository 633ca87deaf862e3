# alertflow: `make run` to try it, `make test` to check it.

GO ?= go
# Newer tags of the CLI carry replace directives and cannot be go-installed.
TEMPORAL_CLI_VERSION := v1.5.1
TEMPORAL := $(CURDIR)/bin/temporal
# staticcheck 2026.2.2; the module proxy serves it as v0.8.2. go run builds
# it once into the module cache.
STATICCHECK_VERSION := v0.8.2
# The real server and its schema tool, for make cluster; newer 1.32.x tags
# need a newer Go than go.mod's.
TEMPORAL_SERVER_VERSION := v1.32.1
TEMPORAL_SERVER := $(CURDIR)/bin/temporal-server
TEMPORAL_UI := $(CURDIR)/bin/temporal-ui

.PHONY: soak soak-short run build test test-unit test-deps vet staticcheck cross cluster cluster-stop cluster-deps test-cluster fmt-check compose-check histories screenshots clean bench

run: $(TEMPORAL) build
	./bin/alertflow dev

build:
	$(GO) build -o bin/alertflow ./cmd/alertflow

# The first build takes about ten minutes on two cores; later ones are cached.
$(TEMPORAL):
	@echo "Building bin/temporal (the Temporal CLI $(TEMPORAL_CLI_VERSION)) from the Go module proxy, once: about ten minutes on two cores..."
	GOBIN=$(CURDIR)/bin $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# The binary must build, and vet clean, where users run it, not only here:
# its per-OS code (process groups, port holders) lives in app.
cross:
	@for os in darwin windows; do \
	  GOOS=$$os GOARCH=amd64 $(GO) build -o /dev/null ./cmd/alertflow && \
	  GOOS=$$os GOARCH=amd64 $(GO) vet ./cmd/alertflow ./app/... || exit 1; \
	  echo "cross: ./cmd/alertflow and ./app build and vet for $$os"; \
	done

# Debian packages make test uses: docker-compose to validate
# docker-compose.yml (no Docker engine needed) and chromium for the Web UI
# browser test. Installed when missing; without root or apt-get it says so
# and the steps that need them skip locally (CI runs as root).
test-deps:
	@missing=""; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "test-deps: installing$$missing (Debian packages)"; \
	  apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "test-deps: SKIPPED: missing$$missing; installing needs root and apt-get (apt-get install$$missing)"; \
	fi

# Validates docker-compose.yml (and its ${...} against .env.example).
compose-check: test-deps
	@if ! command -v docker-compose >/dev/null 2>&1; then \
	  echo "compose-check: SKIPPED: docker-compose is not installed"; exit 0; \
	fi; \
	docker-compose --env-file .env.example -f docker-compose.yml config -q && \
	echo "compose-check: docker-compose.yml is valid ($$(docker-compose version --short))"

# One run of every package under the race detector; the integration tests
# start bin/temporal through the SDK's testsuite. Fuzz targets run their
# seed corpus here; docs/development.md says how to fuzz longer.
test: $(TEMPORAL) fmt-check vet staticcheck cross test-deps compose-check
	ALERTFLOW_TEST_TEMPORAL_BIN=$(TEMPORAL) $(GO) test -race -count=1 -timeout 14m ./...

# The inner loop: the domain, the intake, the workflows (in the SDK's test
# environment), the activities, notify/ and worker/, without a server, a process or
# the race detector; well under a minute. make test still checks everything.
UNIT_PACKAGES := ./alert/... ./ingress/... ./workflows/... ./activities/... ./notify/... ./worker/... ./route/... ./config/...
test-unit:
	$(GO) test -count=1 $(UNIT_PACKAGES)

# Re-take the Web UI screenshots in docs/ that the README shows, and draw
# the Slack messages docs/slack.md shows.
screenshots: $(TEMPORAL) test-deps
	ALERTFLOW_UPDATE_SCREENSHOT=1 ALERTFLOW_TEST_TEMPORAL_BIN=$(TEMPORAL) \
		$(GO) test -count=1 -run 'TestTheWebUIShowsAnOpenHighAlert|TestSlackMessagesArePicturedAsBlockKitLaysThemOut' ./integration

# Re-record the histories the replay test in workflows/ replays. Run it after
# a deliberate change to AlertWorkflow, and commit the result with it; move
# the old ones into a subdirectory first when the change is versioned, so
# they stay replayed.
histories: $(TEMPORAL)
	rm -f testdata/histories/*.json
	ALERTFLOW_RECORD_HISTORIES=$(CURDIR)/testdata/histories ALERTFLOW_TEST_TEMPORAL_BIN=$(TEMPORAL) \
		$(GO) test -count=1 -short ./integration

# Load benchmark (bench/, about 25 minutes on two cores): the parsing
# micro-benchmarks, then afbench, which starts the dev server through
# bin/alertflow dev and measures raw SDK calls against alertflow in
# alternating rounds; it prints the table and writes bench/results.json.
# open10k lets the server work off the opening of 10 000 alerts, then
# queries every one of them. notify measures the time from a failed
# pipeline to its notification at 10, 30 and 50 a second and searches for
# the highest rate kept under 2 s p99; burst sends 2 000 failures within
# 20 s (together about 15 minutes). Then the spread load again against make
# cluster's Temporal server on PostgreSQL (-cluster, bench/results-cluster.json),
# printed beside the dev server's figures. silences times notifications with
# 10 000 silences running against none (about 11 minutes).
# BENCH_SCENARIOS=notify,burst (or any list of afbench's scenarios) runs
# only those, merged into bench/results.json, without the parsing
# benchmarks and the cluster.
BENCH_SCENARIOS ?=
bench: $(TEMPORAL) $(TEMPORAL_SERVER) build cluster-deps
	$(GO) build -o bin/afbench ./bench/cmd/afbench
ifeq ($(BENCH_SCENARIOS),)
	$(GO) test -run '^$$' -bench ParsePipelineEvent -benchmem ./ingress
	$(GO) test -run '^$$' -bench 'SilencingAmongTenThousandSilences|WorstAllowed' -benchmem ./silence ./route
	./bin/afbench -scenarios spread,hot,mixed,open10k,memory,flood,notify,burst,silences -alertflow bin/alertflow -temporal $(TEMPORAL) -json bench/results.json -rounds 5 -open-drain 2m -query-sample 0
	./bin/afbench -cluster -scenarios spread -alertflow bin/alertflow -temporal $(TEMPORAL) -json bench/results-cluster.json -rounds 5 -beside bench/results.json
else
	./bin/afbench -scenarios $(BENCH_SCENARIOS) -merge -alertflow bin/alertflow -temporal $(TEMPORAL) -json bench/results.json -rounds 5 -open-drain 2m -query-sample 0
endif

# The soak (bench/cmd/afbench -scenarios soak, docs/reliability.md): a
# compressed GitLab day of SOAK_DELIVERIES deliveries (default 200 000,
# about half an hour) against alertflow's intake and worker in processes of
# their own, on the dev server alertflow dev starts (SOAK_CLUSTER=1: on make
# cluster's Temporal server on PostgreSQL), with people acknowledging,
# snoozing and resolving, silences, a receiver failing for a while and the
# worker killed once. It prints every invariant and figure, writes
# bench/results-soak.json (or results-soak-cluster.json) and exits non-zero
# when an invariant does not hold. make soak-short (about 20 000
# deliveries, 3 to 4 minutes) runs in CI.
SOAK_DELIVERIES ?= 200000
SOAK_CLUSTER ?=
SOAK_JSON = bench/results-soak$(if $(SOAK_CLUSTER),-cluster).json
soak: $(TEMPORAL) build $(if $(SOAK_CLUSTER),$(TEMPORAL_SERVER) cluster-deps)
	$(GO) build -o bin/afbench ./bench/cmd/afbench
	./bin/afbench -scenarios soak $(if $(SOAK_CLUSTER),-cluster) -soak-deliveries $(SOAK_DELIVERIES) \
		-alertflow bin/alertflow -temporal $(TEMPORAL) -json $(SOAK_JSON)

soak-short:
	$(MAKE) soak SOAK_DELIVERIES=20000 SOAK_JSON=$$(mktemp --suffix=.json)

# The Temporal server and temporal-sql-tool, from the Go module proxy
# (about nine minutes cold on two cores). go install names them server and
# sql; they are renamed to what Temporal's docs call them.
$(TEMPORAL_SERVER):
	@echo "Building bin/temporal-server and bin/temporal-sql-tool ($(TEMPORAL_SERVER_VERSION)) from the Go module proxy, once: about nine minutes on two cores..."
	rm -rf bin/.server
	GOBIN=$(CURDIR)/bin/.server $(GO) install go.temporal.io/server/cmd/server@$(TEMPORAL_SERVER_VERSION) go.temporal.io/server/cmd/tools/sql@$(TEMPORAL_SERVER_VERSION)
	mv bin/.server/sql bin/temporal-sql-tool
	mv bin/.server/server $(TEMPORAL_SERVER)
	rm -rf bin/.server

# The Web UI of make cluster: the UI server the temporal CLI embeds, in a
# module of its own (cluster/webui), pointed at the cluster's frontend.
$(TEMPORAL_UI): cluster/webui/main.go cluster/webui/go.mod
	cd cluster/webui && $(GO) build -o $(TEMPORAL_UI) .

# PostgreSQL (Debian's) and curl, installed when missing; without root or
# apt-get it says what to install.
cluster-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "cluster-deps: installing$$missing (Debian packages)"; \
	  apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "cluster-deps: missing$$missing; install it (apt-get install$$missing) and run make cluster again"; exit 1; \
	fi

# The production topology on this host, without Docker: PostgreSQL, the
# Temporal server, its Web UI, two workers, two ingresses (cluster/cluster.sh; data,
# logs and PIDs in data/cluster). make cluster-stop stops all of it.
cluster: $(TEMPORAL) $(TEMPORAL_SERVER) $(TEMPORAL_UI) build cluster-deps
	cluster/cluster.sh start

cluster-stop:
	cluster/cluster.sh stop

# The fault test: a cluster of its own, driven through a worker crash, an
# ingress stop and a server restart. .ci/run runs it after make test.
test-cluster: $(TEMPORAL) $(TEMPORAL_SERVER) $(TEMPORAL_UI) build cluster-deps
	ALERTFLOW_TEST_CLUSTER=1 ALERTFLOW_TEST_TEMPORAL_BIN=$(TEMPORAL) \
		$(GO) test -count=1 -timeout 15m -v -run TestCluster ./integration

clean:
	rm -rf bin data
