# xhad — see README.md. Every target works on a fresh Debian 12 machine once
# .ci/run (or `make deps`) has installed the packages the tests need.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
PKGS     := ./...
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || { test -x $(HOME)/go/bin/staticcheck && echo $(HOME)/go/bin/staticcheck; } || echo $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2)

.PHONY: all build test lint fuzz bench demo deps clean package package-check

all: build

## build: the static binary ./xhad
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o xhad .

## test: lint, then every test (as root also the namespace and database tests)
test: lint
	CGO_ENABLED=0 $(GO) build -o /dev/null .
	$(GO) test -count=1 -timeout 30m $(PKGS)

## lint: gofmt, go vet, staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	 if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)

## fuzz: a short pass of every fuzz target (corpus in testdata/fuzz). Budgets are
## execution counts, not durations: with a duration, Go 1.26's fuzz coordinator can
## report a spurious "context deadline exceeded" at the deadline (golang/go#75804).
FUZZ_PARSE   ?= 3000x
FUZZ_OPEN    ?= 300000x
FUZZ_DEFRAME ?= 100000x
FUZZFLAGS    ?= -fuzzminimizetime 1s
fuzz:
	$(GO) test ./dsl -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZ_PARSE) $(FUZZFLAGS)
	$(GO) test ./daemon/link -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZ_OPEN) $(FUZZFLAGS)
	$(GO) test ./daemon/link -run '^$$' -fuzz '^FuzzDeframe$$' -fuzztime $(FUZZ_DEFRAME) $(FUZZFLAGS)

## bench: benchmarks (numbers go into README.md; the failover benchmark against keepalived needs root and takes ~13 min)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m $(PKGS)

## demo: a two-node cluster with simulated Xen and DRBD on this machine
demo:
	$(GO) run . demo

PKG_VERSION ?= $(or $(patsubst v%,%,$(shell git describe --tags --match 'v[0-9]*' 2>/dev/null | tr - +)),0.1.0)

## package: dist/xhad_$(PKG_VERSION)_amd64.deb and dist/xhad-$(PKG_VERSION).x86_64.rpm (nfpm v2.45.2, pinned in packaging/tools)
package:
	packaging/build.sh $(PKG_VERSION) dist

## package-check: lintian, rpmlint (as nobody), systemd-analyze verify, payload lists, install/upgrade/remove/purge of the .deb (root)
package-check: package
	packaging/check.sh dist

## deps: install the Debian packages and tools the tests need (root)
deps:
	bash .ci/install-deps

clean:
	rm -rf xhad dist
