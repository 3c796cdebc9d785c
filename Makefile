# Accord's one entry point. CI calls `make test` (see .ci/run).
SHELL := /bin/bash
GO ?= go
BIN := bin/accord
GOLANGCI_VERSION := v2.15.0

# Packages that start a protoactor cluster run without the race detector:
# protoactor-go itself trips it. Everything else runs with -race.
CLUSTER_PKGS := ./actors/... ./rest/... ./gateway/... ./cmd/...
RACE_PKGS = $(shell $(GO) list ./... | grep -v -E '/(actors|rest|gateway|cmd)(/|$$)')

.PHONY: build run test cluster-test bench lint generate tidy-check deps-proto

build:
	$(GO) build -o $(BIN) ./cmd/accord

run: build
	./$(BIN) serve

test:
	$(GO) vet ./...
	$(GO) test -race -count=1 $(RACE_PKGS)
	$(GO) test -count=1 -p 1 $(CLUSTER_PKGS)

# Three real nodes on one throwaway PostgreSQL, watchers on every node, a
# steady REST load, and in turn: steady state, SIGKILL, a node joining,
# SIGTERM, and (as root) a partition in a network namespace. Prints the
# table of lost/duplicated/out-of-order counts; `make test` runs shorter
# phases of the same tests.
cluster-test:
	ACCORD_CLUSTER_TEST=full $(GO) test -count=1 -v -timeout 8m -run 'TestCrossNode|TestScenarios|TestPartition' ./cmd/accord/clustertest/

# Hot-path figures: permission computation, snowflakes, token checks, gateway
# fan-out to 1/100/1000 local sessions, and the gateway table of a real node
# (idle memory per connection, deliveries/s next to a bare gobwas/ws
# broadcast, send-to-receive latency; about a minute).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./permissions/ ./snowflake/ ./token/
	$(GO) test -run '^$$' -bench 'Writer|PlainCopy' -benchmem ./persistence/
	$(GO) test -run '^$$' -bench MessagePath -benchtime 1x ./rest/
	$(GO) test -run '^$$' -bench Fanout -benchmem ./gateway/
	$(GO) test -run '^$$' -bench Gateway -benchtime 1x -timeout 10m ./cmd/accord/
	$(GO) test -run '^$$' -bench ClusterFanout -benchtime 1x -timeout 5m ./cmd/accord/clustertest/

# protoc comes from Debian; the Go plugins are pinned as go tools in go.mod.
deps-proto:
	@command -v protoc >/dev/null || { echo "installing protobuf-compiler"; \
		(apt-get update -qq && apt-get install -y -qq protobuf-compiler) >/dev/null; }

PROTOS := $(shell find proto -name '*.proto')
# The grain plugin's options.proto (reenterable methods) lives in the
# protoactor-go module.
PROTOACTOR_DIR = $(shell $(GO) list -m -f '{{.Dir}}' github.com/asynkron/protoactor-go)

generate: deps-proto
	@for f in $(PROTOS); do \
		protoc -I proto -I $(PROTOACTOR_DIR) \
			--plugin=protoc-gen-go=$$($(GO) tool -n protoc-gen-go) \
			--plugin=protoc-gen-go-grain=$$($(GO) tool -n protoc-gen-go-grain) \
			--go_out=proto --go_opt=paths=source_relative \
			--go-grain_out=proto --go-grain_opt=paths=source_relative \
			$${f#proto/} || exit 1; \
	done

lint:
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION) run ./...

tidy-check:
	$(GO) mod tidy
	git diff --exit-code go.mod go.sum
