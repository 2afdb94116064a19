# imgpurge: `make run` starts the service on its embedded defaults,
# `make test` installs and starts what the tests need, then runs every test.
SHELL := /bin/bash
GO ?= go
BIN := ./bin
CONFIG ?= deploy/local/imgpurge.yaml

.PHONY: build run test deps test-go vet fmt clean demo bench

build:
	$(GO) build -o $(BIN)/imgpurged ./cmd/imgpurged
	$(GO) build -o $(BIN)/imgpurge ./cmd/imgpurge
	$(GO) build -o $(BIN)/cdnemu ./cmd/cdnemu

run: build
	$(BIN)/imgpurged -config $(CONFIG)

# deps installs the real servers the integration tests run against
# (Debian packages, versitygw) when they are absent.
deps:
	bash deploy/local/deps.sh

test: deps vet test-go

test-go:
	$(GO) test -count=1 -timeout 20m ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

# demo runs the whole system on 127.0.0.1 (S3 server, origin, Varnish, CDN
# emulators, imgpurged), purges one size through the command line, shows
# what each layer received and stops everything it started.
demo: deps build
	$(GO) build -o $(BIN)/imgpurge-demo ./cmd/imgpurge-demo
	$(BIN)/imgpurge-demo -bin $(BIN) -repo .

# bench measures imgpurge against its performance targets and a script's
# way of purging, on this machine's loopback only, and writes the report to
# docs/benchmarks.md (profiles and latencies go to var/bench). It
# takes about 5 minutes on 2 cores; every load is bounded in count and time.
bench: deps
	$(GO) build -o $(BIN)/imgpurged ./cmd/imgpurged
	$(GO) build -o $(BIN)/imgpurge-load ./cmd/imgpurge-load
	$(GO) build -o $(BIN)/imgpurge-bench ./cmd/imgpurge-bench
	$(BIN)/imgpurge-bench -imgpurged $(BIN)/imgpurged -load $(BIN)/imgpurge-load \
		-out docs/benchmarks.md -artifacts var/bench

clean:
	rm -rf $(BIN)
