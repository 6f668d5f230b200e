# Quaver: `make run` serves a development app, `make test` runs every test.
GO       ?= go
BIN      := bin/quaver
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/quaver-dev/quaver/cmd.Version=$(VERSION)
FUZZTIME ?= 30s

.PHONY: run run-demo build test test-deps vet fuzz bench cover lint golden tidy clean

run: build
	./$(BIN) start

# The AI chat demo: Redis, Quaver, a PHP worker with a fake model, the chat page.
run-demo:
	./scripts/demo.sh

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/quaver

# Everything, with the race detector, against real Redis, HAProxy, nginx,
# Chromium and the real npm clients, which test-deps installs when missing.
# The end-to-end tests run after the others, not beside them: some measure
# latency (slow consumers, pacing), and another package's tests on the
# second core would be measured with it.
test: test-deps vet
	$(GO) test -race -timeout 5m $$($(GO) list ./... | grep -v /e2e$$)
	$(GO) test -race -timeout 10m ./e2e

test-deps:
	./scripts/test-deps.sh

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

# Each fuzz target for FUZZTIME (go test runs one target at a time).
fuzz:
	$(GO) test ./protocol -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./protocol -run '^$$' -fuzz '^FuzzUnmarshalFrame$$' -fuzztime $(FUZZTIME)
	$(GO) test ./protocol -run '^$$' -fuzz '^FuzzAppendQuoted$$' -fuzztime $(FUZZTIME)
	$(GO) test ./protocol -run '^$$' -fuzz '^FuzzVerifyAuth$$' -fuzztime $(FUZZTIME)
	$(GO) test ./protocol -run '^$$' -fuzz '^FuzzDecodeMsgpack$$' -fuzztime $(FUZZTIME)
	$(GO) test ./protocol -run '^$$' -fuzz '^FuzzDeltaWireLen$$' -fuzztime $(FUZZTIME)
	$(GO) test ./protocol -run '^$$' -fuzz '^FuzzParseQuery$$' -fuzztime $(FUZZTIME)
	$(GO) test ./protocol -run '^$$' -fuzz '^FuzzParseToken$$' -fuzztime $(FUZZTIME)
	$(GO) test ./httpapi -run '^$$' -fuzz '^FuzzDecodeBody$$' -fuzztime $(FUZZTIME)
	$(GO) test ./connection -run '^$$' -fuzz '^FuzzFrameReader$$' -fuzztime $(FUZZTIME)
	$(GO) test ./connection -run '^$$' -fuzz '^FuzzFrameReaderDeflate$$' -fuzztime $(FUZZTIME)
	$(GO) test ./channels -run '^$$' -fuzz '^FuzzValidate$$' -fuzztime $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

cover:
	$(GO) test -coverprofile=coverage.out ./...
	$(GO) tool cover -func=coverage.out | tail -1

# Only packages that define the -update flag: any other test binary would
# refuse the unknown flag.
GOLDEN_PKGS = $(sort $(dir $(shell grep -rl --include='*_test.go' --exclude-dir=node_modules '"update", false' .)))
golden:
	$(GO) test $(GOLDEN_PKGS) -run Golden -update

lint: vet
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@latest run ./...

tidy:
	$(GO) mod tidy

clean:
	rm -rf bin coverage.out
