# towerd — see README.md. `make run` and `make test` are the two commands.
GO       ?= go
PORT     ?= 8043
FUZZTIME ?= 20s
PLUGINS  := $(patsubst plugins/%/main.go,%,$(wildcard plugins/*/main.go))
LDFLAGS  := -s -w
BUILD    := $(GO) build -trimpath -ldflags '$(LDFLAGS)'
# Lean builds (see README "Performance"): no cgo (static, no libc mapped),
# no gRPC tracing, and plugins without go-plugin's host-side code
# (towerd_plugin tag). Plugins in CGO_PLUGINS need cgo (vm loads libvirt
# at run time: libvirt_dlopen). A -tags given later replaces earlier ones,
# so every build line names all its tags.
CGO_PLUGINS ?= vm
PLUGIN_TAGS ?= towerd_plugin,grpcnotrace,libvirt_dlopen
# vet and test build every package with libvirt_dlopen, so they need no
# libvirt headers (the vm plugin loads libvirt.so.0 at run time). -race
# needs cgo's C compiler; without gcc the tests run without it (loudly).
TEST_TAGS   ?= libvirt_dlopen
RACE        := $(shell command -v gcc >/dev/null 2>&1 && echo -race)

.PHONY: all build run test vet deps testdeps proto clean bench fuzz chaos package

all: build

build:
	CGO_ENABLED=0 $(BUILD) -tags grpcnotrace -o bin/towerd ./cmd/towerd
	@for p in $(PLUGINS); do \
		cgo=0; case " $(CGO_PLUGINS) " in *" $$p "*) cgo=1;; esac; \
		echo "plugin $$p (cgo=$$cgo)"; \
		CGO_ENABLED=$$cgo $(BUILD) -tags '$(PLUGIN_TAGS)' -o plugins.d/$$p ./plugins/$$p || exit 1; \
	done

run: build
	./bin/towerd --port $(PORT) --plugins-dir plugins.d --config run/towerd.json --demo testdata/unraid

# Measures the built agent (see bench/README.md): steady-state memory, CPU
# and wakeups (about 7 minutes before the rest), freshness, fan-out, REST,
# restart and interval figures; results in bench/results.json.
# `make bench QUICK=1` is the short run for development (about 4 minutes).
bench: build
	CGO_ENABLED=0 $(BUILD) -o bin/benchecho ./core/internal/testplugin
	CGO_ENABLED=0 $(BUILD) -o bin/towerbench ./cmd/towerbench
	./bin/towerbench --towerd bin/towerd --plugins plugins.d --root testdata/unraid --echo bin/benchecho --out bench/results.json $(if $(QUICK),--quick)

# The SDK is a module of its own (sdk/go.mod; the root requires it through
# a replace), so ./... at the root does not reach it: vet and test visit
# each module. The example plugins' modules are tested by core/e2e.
MODULES := . sdk

vet:
	@for m in $(MODULES); do echo "go vet ($$m)"; (cd $$m && $(GO) vet -tags '$(TEST_TAGS)' ./...) || exit 1; done
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }

# `make test` on a fresh machine: testdeps installs what the tests talk to
# (as root; idempotent) or says loudly what it could not install — those
# tests then skip, or fail under CI=true.
test: testdeps vet
	@test -n "$(RACE)" || echo "!! no gcc: running the tests WITHOUT the race detector"
	@for m in $(MODULES); do echo "go test ($$m)"; (cd $$m && $(GO) test $(RACE) -tags '$(TEST_TAGS)' -count=1 ./...) || exit 1; done

testdeps:
	@.ci/deps

# Every fuzz target in the repo, FUZZTIME each (default 20s): `make fuzz FUZZTIME=1m`.
fuzz:
	FUZZTIME=$(FUZZTIME) .ci/fuzz

# The long fault-injection run: 100 random kill -9 over 60 s with ten
# WebSocket clients (make test runs a short one).
CHAOS_KILLS   ?= 100
CHAOS_SECONDS ?= 60
chaos:
	TOWERD_CHAOS_KILLS=$(CHAOS_KILLS) TOWERD_CHAOS_SECONDS=$(CHAOS_SECONDS) \
		$(GO) test -count=1 -v -timeout 10m -run '^TestChaosKillPlugins$$' ./core/e2e/

# Unraid plugin: dist/towerd-VERSION-x86_64-1.txz (linux/amd64, -trimpath) and
# dist/towerd.plg, the same bytes for the same tree. RELEASE_URL is where the
# .plg downloads from (GitHub's release layout: download/vVERSION/…,
# latest/download/towerd.plg); VERSION overrides sdk/version.go.
RELEASE_URL ?= https://github.com/towerd/towerd/releases
VERSION     ?=
package:
	GO=$(GO) RELEASE_URL='$(RELEASE_URL)' VERSION='$(VERSION)' packaging/unraid/build.sh dist

# Installs what the tests need on a fresh Debian machine (root); fails on
# the first script that fails (make testdeps only warns).
deps:
	@for s in .ci/setup.d/*.sh; do echo "== $$s"; bash $$s || exit 1; done

proto:
	command -v protoc >/dev/null || { apt-get update -q && apt-get install -y -q --no-install-recommends protobuf-compiler; }
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
	cd sdk/proto && PATH="$$PATH:$$($(GO) env GOPATH)/bin" protoc --go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative collector.proto

clean:
	rm -rf bin run dist
	find plugins.d -type f ! -name README.md ! -name SHA256SUMS -delete
