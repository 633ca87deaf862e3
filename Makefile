# alertflow: `make run` to try it, `make test` to check it.

GO ?= go
# Newer tags of the CLI carry replace directives and cannot be go-installed.
TEMPORAL_CLI_VERSION := v1.5.1
TEMPORAL := $(CURDIR)/bin/temporal

.PHONY: run build test vet fmt-check histories clean

run: $(TEMPORAL) build
	./bin/alertflow dev

build:
	$(GO) build -o bin/alertflow ./cmd/alertflow

# The first build takes about ten minutes on two cores; later ones are cached.
$(TEMPORAL):
	GOBIN=$(CURDIR)/bin $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Integration tests start bin/temporal through the SDK's testsuite.
test: $(TEMPORAL) fmt-check vet
	ALERTFLOW_TEST_TEMPORAL_BIN=$(TEMPORAL) $(GO) test -count=1 -timeout 12m ./...

# Re-record the histories the replay test in workflows/ replays. Run it after
# a deliberate change to AlertWorkflow, and commit the result with it.
histories: $(TEMPORAL)
	rm -f testdata/histories/*.json
	ALERTFLOW_RECORD_HISTORIES=$(CURDIR)/testdata/histories ALERTFLOW_TEST_TEMPORAL_BIN=$(TEMPORAL) \
		$(GO) test -count=1 -short ./integration

clean:
	rm -rf bin data
