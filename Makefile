# The two commands: `make run` and `make test`. Everything a test needs is
# built or installed here.
GO        ?= go
BIN       := bin
PLUGIN    := $(BIN)/plugins/pocketbackup-plugin
TESTHOST  := $(BIN)/testhost
HTTP      ?= 127.0.0.1:8090
DATA_DIR  ?= ./pb_data
JS_DIR    := examples/js
JS_STAMP  := $(JS_DIR)/node_modules/.package-lock.json
EMU_DIR   := plugin/storage/testdata/emulators
EMU_STAMP := $(EMU_DIR)/node_modules/.package-lock.json
FAKE_GCS  := $(BIN)/tools/fake-gcs-server
POCKETBASE := $(BIN)/tools/pocketbase
AXE_DIR   := host/webui/testdata/axe
AXE_STAMP := $(AXE_DIR)/node_modules/.package-lock.json

# Pinned code generators for `make proto` (protoc itself: Debian's protobuf-compiler 3.21).
PROTOC_GEN_GO      := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1

# The GCS protocol emulator the storage tests run against (built from its
# module, so it adds nothing to go.mod).
FAKE_GCS_MODULE := github.com/fsouza/fake-gcs-server@v1.56.1

.PHONY: all build run test tools accel npm axe emulators bench fuzz proto lint clean loadtest

all: build

build:
	$(GO) build -o $(TESTHOST) ./testhost
	$(GO) build -o $(PLUGIN) ./plugin/cmd/pocketbackup-plugin
	cd $(dir $(PLUGIN)) && sha256sum $(notdir $(PLUGIN)) > $(notdir $(PLUGIN)).sha256

# Serves the API on $(HTTP) with backups under $(DATA_DIR)/backups. Set
# PB_SUPERUSER_EMAIL and PB_SUPERUSER_PASSWORD to choose the superuser;
# otherwise one is created on first start and its password printed.
run: build accel
	@echo "Backups page: http://$(HTTP)/_/"
	$(TESTHOST) serve --http=$(HTTP) --dir=$(DATA_DIR) --plugins=$(dir $(PLUGIN))

# The JS SDKs, from the committed lock file.
npm: $(JS_STAMP)
$(JS_STAMP): $(JS_DIR)/package.json $(JS_DIR)/package-lock.json
	cd $(JS_DIR) && npm ci --no-audit --no-fund
	touch $@

# axe-core for the backups page's browser tests (injected into the page
# under test; never served), from its committed lock file.
axe: $(AXE_STAMP)
$(AXE_STAMP): $(AXE_DIR)/package.json $(AXE_DIR)/package-lock.json
	cd $(AXE_DIR) && npm ci --no-audit --no-fund
	touch $@

# Storage protocol emulators for plugin/storage's tests: Azurite (Azure
# Blob Storage) from its committed lock file, and fake-gcs-server.
emulators: $(EMU_STAMP) $(FAKE_GCS)
$(EMU_STAMP): $(EMU_DIR)/package.json $(EMU_DIR)/package-lock.json
	cd $(EMU_DIR) && npm ci --no-audit --no-fund
	touch $@
$(FAKE_GCS):
	GOBIN=$(abspath $(dir $(FAKE_GCS))) $(GO) install $(FAKE_GCS_MODULE)

# Command-line tools the tests drive (unzip checks our archives as a
# third-party reader would), and Intel ISA-L's libisal.so.2 (Debian's
# libisal2), which the plugin loads at run time to deflate about twice as
# fast; the tests run with both deflate engines. libisal-dev's header is
# only for the test that checks the package's own declarations against it:
# building needs no ISA-L package. Debian's chromium runs the backups page's
# browser tests (host/webui), headless. Installed with apt when missing (CI
# runs as root).
HAVE_ISAL = { ldconfig -p 2>/dev/null || /sbin/ldconfig -p; } | grep -q 'libisal\.so\.2 '
tools:
	@missing=""; command -v unzip >/dev/null || missing="$$missing unzip"; \
	$(HAVE_ISAL) || missing="$$missing libisal2"; \
	[ -f /usr/include/isa-l/igzip_lib.h ] || missing="$$missing libisal-dev"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; fi

# The optional accelerator for `make run` and `make bench`: without it (no
# root to install it), the plugin deflates with its pure-Go engine.
accel:
	@$(HAVE_ISAL) || { apt-get update -qq && apt-get install -y -qq libisal2 >/dev/null; } || \
		echo "libisal2 not installed: the plugin deflates with its pure-Go engine"

test: build npm axe emulators tools lint
	PB_REQUIRE_ISAL=1 PB_REQUIRE_EMULATORS=1 PB_REQUIRE_BROWSER=1 BENCH_SMOKE=1 $(GO) test -race -count=1 -timeout 9m ./...

bench: build accel $(POCKETBASE)
	$(GO) run ./bench -bin=$(BIN) -pocketbase=$(POCKETBASE) -size=$(or $(BENCH_SIZE),1.5GiB) $(BENCH_FLAGS)

# PocketBase itself, the bench's baseline, from its own module (the project
# never depends on it); rebuilt only when that module changes. Not built by
# `make test`: about 3 minutes on 2 cores, so the smoke run leaves it out.
$(POCKETBASE): bench/pocketbase/main.go bench/pocketbase/go.mod bench/pocketbase/go.sum
	cd bench/pocketbase && $(GO) build -trimpath -o $(abspath $(POCKETBASE)) .

# Every parser of untrusted bytes, fuzzed for FUZZTIME each (make test runs
# their committed seed corpora only).
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) ./archive/
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./archive/
	$(GO) test -run '^$$' -fuzz '^FuzzValidName$$' -fuzztime $(FUZZTIME) ./archive/
	$(GO) test -run '^$$' -fuzz '^FuzzPieceInflaters$$' -fuzztime $(FUZZTIME) ./archive/
	$(GO) test -run '^$$' -fuzz '^FuzzParseToken$$' -fuzztime $(FUZZTIME) ./host/auth/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./host/cron/
	$(GO) test -run '^$$' -fuzz '^FuzzClient$$' -fuzztime $(FUZZTIME) ./host/clientip/
	$(GO) test -run '^$$' -fuzz '^FuzzUploadBody$$' -fuzztime $(FUZZTIME) ./host/
	$(GO) test -run '^$$' -fuzz '^FuzzApply$$' -fuzztime $(FUZZTIME) ./host/retention/
	$(GO) test -run '^$$' -fuzz '^FuzzDownloadHeaders$$' -fuzztime $(FUZZTIME) ./host/cli/
	$(GO) test -run '^$$' -fuzz '^FuzzNotifySettings$$' -fuzztime $(FUZZTIME) ./host/
	$(GO) test -run '^$$' -fuzz '^FuzzValidKey$$' -fuzztime $(FUZZTIME) ./shared/
	$(GO) test -run '^$$' -fuzz '^FuzzValidChars$$' -fuzztime $(FUZZTIME) ./internal/safename/
	$(GO) test -run '^$$' -fuzz '^FuzzParseKeys$$' -fuzztime $(FUZZTIME) ./internal/atrest/
	$(GO) test -run '^$$' -fuzz '^FuzzPlainSize$$' -fuzztime $(FUZZTIME) ./internal/atrest/

# Load: 50 clients list and download for 60 s over loopback while creates
# run back to back (host/load_test.go; go test runs a 3 s version).
# LOADTEST_DURATION and LOADTEST_CLIENTS change the load.
loadtest:
	LOADTEST_DURATION=$(or $(LOADTEST_DURATION),60s) LOADTEST_CLIENTS=$(or $(LOADTEST_CLIENTS),50) \
		$(GO) test -run '^TestLoad$$' -count=1 -v -timeout 30m ./host/

proto:
	$(GO) install $(PROTOC_GEN_GO)
	$(GO) install $(PROTOC_GEN_GO_GRPC)
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" protoc --go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative shared/proto/backup.proto

# Pinned, run from the module proxy so go.mod does not carry it.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
MODULE      := github.com/pocketbackup/pocketbackup

# What each part of the tree must never depend on, directly or through
# another package: "packages|forbidden dependencies" (regexps of import
# paths below the module). shared may use only itself and internal/ leaves.
LAYERS := \
	'host|(plugin|archive)(/|$$)' \
	'archive|(shared|host|plugin|restore)(/|$$)' \
	'restore|(shared|host|plugin|archive)(/|$$)' \
	'shared|(host|plugin|archive|restore|testhost|bench|examples)(/|$$)' \
	'internal|(shared|host|plugin|archive|restore|testhost|bench|examples)(/|$$)'

lint:
	$(GO) vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'))"
	$(GO) run $(STATICCHECK) ./...
	@for rule in $(LAYERS); do \
		pkgs=$${rule%%|*}; forbidden=$${rule#*|}; \
		bad=$$($(GO) list -deps -f '{{.ImportPath}}' ./$$pkgs/... | sed -n 's|^$(MODULE)/||p' | grep -E "^$$forbidden" || true); \
		if [ -n "$$bad" ]; then echo "layering: $$pkgs/ must not depend on: $$bad"; exit 1; fi; \
	done; echo "layering: ok"

clean:
	rm -rf $(BIN)
