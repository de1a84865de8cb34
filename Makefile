# seccomp-guard development targets. `make` (or `make help`) lists them.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

GO ?= go

# Tool versions. Each tool is built on its own with `go install TOOL@VERSION`
# into bin/ (never one shared tools module: controller-tools and golangci-lint
# need incompatible dependency versions). Bumping a pin rebuilds that tool.
CONTROLLER_GEN_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
HELM_VERSION ?= v3.22.0
# golang.org/x/perf has no releases; this is the pseudo-version of its latest commit when pinned.
BENCHSTAT_VERSION ?= v0.0.0-20260908200009-22c9c6c9d4da
DEADCODE_VERSION ?= v0.52.0
# Helm's own Makefile stamps the Kubernetes minor of the client-go it is built
# against (v0.37 for HELM_VERSION v3.22.0); without it `helm template` assumes
# Kubernetes 1.20. Update together with HELM_VERSION.
HELM_KUBE_MINOR ?= 37
# The runc the local cluster runs (make runc, hack/build-runc.sh): 1.2 or later
# loads a profile's SECCOMP_FILTER_FLAG_LOG, so errno refusals are logged.
# Must equal hack/runc/go.mod's requirement (the script stops when not).
RUNC_VERSION ?= v1.3.7

LOCALBIN := $(CURDIR)/bin
CONTROLLER_GEN := $(LOCALBIN)/controller-gen
GOLANGCI_LINT := $(LOCALBIN)/golangci-lint
HELM := $(LOCALBIN)/helm
BENCHSTAT := $(LOCALBIN)/benchstat
DEADCODE := $(LOCALBIN)/deadcode

# Build stamping.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
VERSION_PKG := github.com/seccomp-guard/seccomp-guard/internal/version
# internal/imagebuild.LDFlags computes the same for `make image`; its test runs
# `make -n build` and fails when the two differ.
LDFLAGS := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Commit=$(COMMIT)

# Container image (make image, make image-push). REGISTRY is a registry and
# path: the image is REGISTRY/seccomp-guard:IMAGE_TAG (default repository
# ghcr.io/seccomp-guard/seccomp-guard, the chart's). An empty IMAGE_TAG means
# the chart's appVersion, so that the chart's default image is the one built.
REGISTRY ?=
IMAGE_TAG ?=
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64
IMAGE_ARGS = -registry '$(REGISTRY)' -tag '$(IMAGE_TAG)' -version '$(VERSION)' -commit '$(COMMIT)' \
	-platforms '$(IMAGE_PLATFORMS)' -out $(LOCALBIN)/image

# Packages. Unit tests need no API server; e2e packages (which start their own
# control plane) are excluded here and run by their own target with -p 1.
UNIT_PKGS := $(shell $(GO) list ./... | grep -v /e2e)

FUZZTIME ?= 30s
BENCH ?= .
BENCHCOUNT ?= 6
BENCHTIME ?= 1s
BENCH_OUT ?= $(LOCALBIN)/bench.txt
BENCH_BASE ?=

# Go files checked by gofmt: everything but build output, caches and testdata.
GOFMT_FILES = $(shell find . -type d \( -name .git -o -name bin -o -name .cache -o -name tmp -o -name testdata \) -prune -o -type f -name '*.go' -print)

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN { FS = ":.*##"; printf "Usage: make <target> [VAR=value ...]\n" } \
		/^[a-zA-Z0-9_.-]+:.*##/ { printf "  %-14s %s\n", $$1, $$2 } \
		/^##@/ { printf "\n%s:\n", substr($$0, 5) }' $(MAKEFILE_LIST)
	@printf '\nVariables: FUZZTIME=%s BENCH=%s BENCHCOUNT=%s BENCHTIME=%s BENCH_BASE=<file> VERSION=%s\n' \
		'$(FUZZTIME)' '$(BENCH)' '$(BENCHCOUNT)' '$(BENCHTIME)' '$(VERSION)'
	@printf '           REGISTRY=<registry/path> IMAGE_TAG=<tag, default the chart appVersion> IMAGE_PLATFORMS=%s\n' \
		'$(IMAGE_PLATFORMS)'
	@printf '           SOAK_DURATION=%s SOAK_RATE=%s (make test-soak)\n' '$(SOAK_DURATION)' '$(SOAK_RATE)'

##@ Development

.PHONY: build
build: ## Build bin/seccomp-guard (static, version-stamped from git).
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(LOCALBIN)/seccomp-guard ./cmd/seccomp-guard

.PHONY: image
image: ## Build the image without an engine: bin/image/*.oci.tar (ctr import, podman load) and *.docker.tar (docker load).
	$(GO) run ./hack/image $(IMAGE_ARGS)

.PHONY: image-push
image-push: ## Build the image and push its index (amd64, arm64) to REGISTRY/seccomp-guard:IMAGE_TAG.
	@if [ -z "$(REGISTRY)" ]; then \
		echo "error: REGISTRY is empty: set it to a registry and path, e.g. make image-push REGISTRY=ghcr.io/you (pushes ghcr.io/you/seccomp-guard:<tag>)" >&2; \
		exit 1; \
	fi
	$(GO) run ./hack/image $(IMAGE_ARGS) -push

# `test` is what CI and the README run: test-unit, then test-e2e, then a
# summary of the suites that skipped (they record why in SKIP_DIR; see
# e2e/framework/skip.go). REQUIRE_REALNODE=1 (set by .ci/run) makes such a
# skip a failure instead.
SKIP_DIR := $(LOCALBIN)/test-skips
# As root, test-e2e first installs what the real node needs (node-deps);
# otherwise the real-node suite skips and the summary says so.
TEST_NODE_DEPS := $(if $(filter 0,$(shell id -u)),node-deps)

define print_skips
if compgen -G '$(SKIP_DIR)/*.skip' >/dev/null; then \
	printf '\n==> SKIPPED: %s suite(s) did not run:\n' "$$(cat '$(SKIP_DIR)'/*.skip | wc -l)"; \
	sed 's/^/    /' '$(SKIP_DIR)'/*.skip; \
	printf '    (REQUIRE_REALNODE=1 makes this a failure; CI sets it)\n'; \
else \
	printf '\n==> nothing skipped: every e2e suite ran, the real-node one included\n'; \
fi
endef

.PHONY: test
test: $(TEST_NODE_DEPS) runc ## Run all tests that CI runs (the README's test command); ends by naming any suite that skipped.
	@rm -rf '$(SKIP_DIR)'
	@status=0; $(MAKE) --no-print-directory test-unit test-monitoring test-e2e-run || status=$$?; \
	$(print_skips); \
	exit $$status

# hack/monitoring is its own module (github.com/prometheus/prometheus stays
# out of the project's go.mod): the chart's alerts and dashboard queries
# checked with Prometheus's rule and PromQL parsers against internal/monitoring.
.PHONY: test-monitoring
test-monitoring: $(HELM) ## Check the chart's PrometheusRule (promtool semantics) and dashboard queries against the binaries' metrics.
	cd hack/monitoring && GOWORK=off $(GO) test -count=1 ./...

.PHONY: test-unit
test-unit: ## Run unit tests (no API server) with the race detector.
	$(GO) test -race -count=1 $(UNIT_PKGS)

.PHONY: lint
lint: $(GOLANGCI_LINT) $(HELM) $(DEADCODE) ## Check formatting (gofmt), go vet, golangci-lint, deadcode and helm lint.
	@unformatted="$$(gofmt -l $(GOFMT_FILES))"; \
	if [ -n "$$unformatted" ]; then \
		echo "error: these files are not gofmt-formatted (run 'gofmt -w' on them):" >&2; \
		echo "$$unformatted" >&2; \
		exit 1; \
	fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...
	bash hack/deadcode.sh $(DEADCODE)
	$(HELM) lint --strict charts/seccomp-guard

# The report CRDs the chart installs only when asked and absent (reporter.installCRDs):
# wgpolicyk8s.io from api/wgpolicyk8s, openreports.io copied verbatim from the
# github.com/openreports/reports-api module that go.mod pins. Not in crds/,
# which Helm always installs and the CRD upgrade hook applies.
REPORT_CRDS := charts/seccomp-guard/report-crds

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code (api/), CRDs (charts/seccomp-guard/crds, report-crds) and the chart's native policies.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/v1alpha1/... output:crd:artifacts:config=charts/seccomp-guard/crds
	$(CONTROLLER_GEN) crd paths=./api/wgpolicyk8s/... output:crd:artifacts:config=$(REPORT_CRDS)
	@openreports="$$($(GO) list -m -f '{{.Dir}}' github.com/openreports/reports-api)"; \
	echo "copying the OpenReports CRDs from $$openreports/config/crd"; \
	install -m 0644 "$$openreports"/config/crd/openreports.io_*.yaml $(REPORT_CRDS)/
	$(GO) run ./internal/nativechart/gen

.PHONY: verify
verify: generate ## Fail if generated files or go.mod/go.sum are out of date.
	@changed="$$(git status --porcelain -- api charts)"; \
	if [ -n "$$changed" ]; then \
		echo "error: api/ or charts/ differ from the commit after 'make generate'." >&2; \
		echo "Run 'make generate' and commit the result (or commit your own changes):" >&2; \
		echo "$$changed" >&2; \
		exit 1; \
	fi
	@if ! tidy="$$($(GO) mod tidy -diff 2>&1)"; then \
		echo "error: go.mod/go.sum are not tidy; run 'go mod tidy' and commit the result:" >&2; \
		echo "$$tidy" >&2; \
		exit 1; \
	fi
	@echo "verify: generated files and go.mod/go.sum are up to date"

# command-or-path:package pairs the real node needs (internal/localcluster.Check),
# what `make runc` needs to build runc with seccomp (gcc, pkg-config, libseccomp-dev;
# without them the cluster runs Debian's runc, docs/testing.md),
# and chromium, in which e2e/audit opens the `audit -o html` page (TestAuditHTMLInChromium).
NODE_DEPS := containerd:containerd ctr:containerd containerd-shim-runc-v2:containerd runc:runc busybox:busybox-static \
	nft:nftables ip:iproute2 /usr/lib/cni/bridge:containernetworking-plugins /usr/lib/cni/host-local:containernetworking-plugins \
	/usr/lib/cni/loopback:containernetworking-plugins \
	gcc:gcc pkg-config:pkg-config /usr/include/seccomp.h:libseccomp-dev \
	chromium:chromium

.PHONY: node-deps
node-deps: ## Install what the real node needs from Debian if missing: containerd, runc, busybox-static, containernetworking-plugins, nftables; gcc, pkg-config, libseccomp-dev for make runc; chromium for e2e/audit.
	@missing=(); \
	for c in $(NODE_DEPS); do \
		case "$${c%%:*}" in \
			/*) [ -e "$${c%%:*}" ] || missing+=("$${c#*:}") ;; \
			*) command -v "$${c%%:*}" >/dev/null 2>&1 || missing+=("$${c#*:}") ;; \
		esac; \
	done; \
	if [ $${#missing[@]} -gt 0 ]; then \
		if [ "$$(id -u)" -ne 0 ]; then echo "error: missing $$(printf '%s\n' "$${missing[@]}" | sort -u | tr '\n' ' '); run as root or: sudo apt-get install -y $$(printf '%s\n' "$${missing[@]}" | sort -u | tr '\n' ' ')" >&2; exit 1; fi; \
		echo "installing $$(printf '%s\n' "$${missing[@]}" | sort -u | tr '\n' ' ')"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$(printf '%s\n' "$${missing[@]}" | sort -u) </dev/null; \
	fi

.PHONY: test-e2e
test-e2e: ## Run the e2e tests: real kube-apiserver, the real binary, a real node (as root), one package at a time.
	@rm -rf '$(SKIP_DIR)'
	@status=0; $(MAKE) --no-print-directory test-e2e-run || status=$$?; \
	$(print_skips); \
	exit $$status

# test-e2e without the summary (test prints one for both).
.PHONY: test-e2e-run
test-e2e-run: controlplane cert-manager $(HELM) $(TEST_NODE_DEPS) runc
	KUBEBUILDER_ASSETS=$(LOCALBIN)/k8s SECCOMP_GUARD_SKIP_DIR='$(SKIP_DIR)' $(GO) test -count=1 -p 1 -timeout 60m ./e2e/...

# The fault and soak suite (e2e/soak, build tag soak; docs/performance.md,
# "Faults and soak"): not part of test or test-e2e. SOAK_DURATION (default
# 10m) is the soak case's length, SOAK_RATE (default 20) pod creations per
# second; e.g. make test-soak SOAK_DURATION=2m.
SOAK_DURATION ?= 10m
SOAK_RATE ?= 20

.PHONY: test-soak
test-soak: controlplane $(HELM) $(TEST_NODE_DEPS) runc ## Faults and soak on the real node through the installed chart: a webhook replica deleted or killed, kube-apiserver restarted, the agent stopped, a SOAK_DURATION soak; counts failed admissions (root).
	REQUIRE_REALNODE=1 KUBEBUILDER_ASSETS=$(LOCALBIN)/k8s SOAK_DURATION=$(SOAK_DURATION) SOAK_RATE=$(SOAK_RATE) \
		$(GO) test -tags soak -count=1 -v -timeout 60m ./e2e/soak

.PHONY: demo
demo: controlplane node-deps runc ## Start a real single-node cluster with seccomp-guard, apply examples/, show what happens (Ctrl-C stops; needs root).
	$(GO) run ./hack/demo

.PHONY: fuzz
fuzz: ## Run every Fuzz target of the unit packages for FUZZTIME (default 30s) each.
	@targets="$$($(GO) test -list '^Fuzz' $(UNIT_PKGS) | \
		awk '/^Fuzz/ { names[n++] = $$1; next } /^ok/ { for (i = 0; i < n; i++) print $$2, names[i]; n = 0 }')"; \
	if [ -z "$$targets" ]; then echo "fuzz: no Fuzz targets found"; exit 0; fi; \
	while read -r pkg name; do \
		echo "==> fuzzing $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime '$(FUZZTIME)' "$$pkg"; \
	done <<< "$$targets"

.PHONY: bench
bench: $(BENCHSTAT) ## Run benchmarks into bin/bench.txt and summarise; BENCH_BASE=<file> compares.
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(BENCHCOUNT) -benchtime $(BENCHTIME) $(UNIT_PKGS) | tee $(BENCH_OUT)
	$(BENCHSTAT) $(BENCH_BASE) $(BENCH_OUT)

# make bench-load / bench-apiserver (hack/load, docs/performance.md). The
# Pod Security Admission webhook is hack/psa (its own module), pinned to
# the project's k8s.io/api version; the Makefile fails if they differ.
PSA_VERSION := $(shell $(GO) list -m -f '{{.Version}}' k8s.io/api 2>/dev/null)
PSA := $(LOCALBIN)/psa-webhook-$(PSA_VERSION)
LOAD := $(LOCALBIN)/load
LOAD_CPU ?= 0
SERVER_CPU ?= 1
LOAD_ARGS ?=
APISERVER_ARGS ?=

$(PSA): hack/psa/go.mod hack/psa/go.sum hack/psa/main.go | $(LOCALBIN)
	@want="k8s.io/pod-security-admission $(PSA_VERSION)"; \
	got="$$(cd hack/psa && GOWORK=off $(GO) list -m k8s.io/pod-security-admission)"; \
	if [ "$$got" != "$$want" ]; then \
		echo "error: hack/psa/go.mod requires $$got, but the project's k8s.io/api is $(PSA_VERSION): run (cd hack/psa && go get k8s.io/pod-security-admission@$(PSA_VERSION) && go mod tidy)" >&2; \
		exit 1; \
	fi
	cd hack/psa && GOWORK=off CGO_ENABLED=0 $(GO) build -trimpath -o $@ .

.PHONY: $(LOAD)
$(LOAD): | $(LOCALBIN)
	$(GO) build -o $@ ./hack/load

.PHONY: bench-load
bench-load: build controlplane $(PSA) $(LOAD) ## Webhook load, side by side: seccomp-guard /validate and /mutate, Pod Security Admission, a no-op floor (LOAD_ARGS=-rounds 5 ...).
	@command -v taskset >/dev/null || { echo "error: taskset is missing (Debian: apt-get install util-linux); it pins the load and the servers to separate cores" >&2; exit 1; }
	taskset -c $(LOAD_CPU) $(LOAD) compare -seccomp-guard $(LOCALBIN)/seccomp-guard -psa $(PSA) -server-cpus $(SERVER_CPU) $(LOAD_ARGS)

.PHONY: bench-apiserver
bench-apiserver: build controlplane $(LOAD) ## Pod creations through kube-apiserver: no admission, native policies, no-op webhooks, seccomp-guard, hybrid (APISERVER_ARGS=-rounds 12 -pods 500 ...).
	$(LOAD) apiserver -seccomp-guard $(LOCALBIN)/seccomp-guard $(APISERVER_ARGS)

# The scale harness (hack/scale): cluster sizes, and more flags (go run ./hack/scale -h).
SCALE_NODES ?= 500,5000
SCALE_ARGS ?=

.PHONY: bench-scale
bench-scale: controlplane build ## Measure the webhook binary at SCALE_NODES nodes (sync time, memory, /validate p99) and an idle agent; slow (minutes), not in make test.
	$(GO) run ./hack/scale -nodes '$(SCALE_NODES)' -bin 'bin/seccomp-guard=$(LOCALBIN)/seccomp-guard' -heap-profile $(LOCALBIN)/scale $(SCALE_ARGS)

.PHONY: controlplane
controlplane: ## Build kube-apiserver, etcd, kubectl, ... into bin/k8s (slow once, then cached).
	bash hack/build-controlplane.sh

.PHONY: cert-manager
cert-manager: ## Build cert-manager's controllers and cainjector (version: hack/cert-manager/go.mod) and its CRDs into bin/cert-manager (slow once, then cached).
	bash hack/build-cert-manager.sh

.PHONY: runc
runc: ## Build runc RUNC_VERSION with seccomp into bin/runc, the local cluster's runtime (cached; without cgo/libseccomp-dev it warns and the cluster uses Debian's runc).
	RUNC_VERSION=$(RUNC_VERSION) bash hack/build-runc.sh

.PHONY: clean
clean: ## Remove the built binary, image and benchmark output (keeps tools and bin/k8s).
	rm -f $(LOCALBIN)/seccomp-guard $(BENCH_OUT)
	rm -rf $(LOCALBIN)/image

.PHONY: distclean
distclean: ## Remove all of bin/: tools, control plane and build output.
	rm -rf $(LOCALBIN)

##@ Tools

.PHONY: tools
tools: $(CONTROLLER_GEN) $(GOLANGCI_LINT) $(HELM) $(BENCHSTAT) $(DEADCODE) ## Build the pinned tools into bin/.

# Each tool is the real target; its prerequisite is a stamp file named after the
# pinned version. A new version means a missing stamp, which is created (and the
# stamps of other versions removed), making the binary older than its stamp and
# so rebuilt. A missing binary is rebuilt too.
$(LOCALBIN):
	mkdir -p $@

$(LOCALBIN)/.controller-gen-$(CONTROLLER_GEN_VERSION) \
$(LOCALBIN)/.golangci-lint-$(GOLANGCI_LINT_VERSION) \
$(LOCALBIN)/.helm-$(HELM_VERSION) \
$(LOCALBIN)/.benchstat-$(BENCHSTAT_VERSION) \
$(LOCALBIN)/.deadcode-$(DEADCODE_VERSION): | $(LOCALBIN)
	@tool="$(notdir $@)"; tool="$${tool#.}"; tool="$${tool%-v*}"; \
	rm -f "$(LOCALBIN)/.$$tool-"*
	@touch $@

$(CONTROLLER_GEN): $(LOCALBIN)/.controller-gen-$(CONTROLLER_GEN_VERSION)
	GOBIN=$(LOCALBIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	@touch $@

$(GOLANGCI_LINT): $(LOCALBIN)/.golangci-lint-$(GOLANGCI_LINT_VERSION)
	GOBIN=$(LOCALBIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	@touch $@

HELM_LDFLAGS := -s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) -X helm.sh/helm/v3/internal/version.metadata= \
	$(foreach pkg,helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil,-X $(pkg).k8sVersionMajor=1 -X $(pkg).k8sVersionMinor=$(HELM_KUBE_MINOR))

$(HELM): $(LOCALBIN)/.helm-$(HELM_VERSION)
	GOBIN=$(LOCALBIN) CGO_ENABLED=0 $(GO) install -ldflags '$(HELM_LDFLAGS)' helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	@touch $@

$(BENCHSTAT): $(LOCALBIN)/.benchstat-$(BENCHSTAT_VERSION)
	GOBIN=$(LOCALBIN) $(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)
	@touch $@

$(DEADCODE): $(LOCALBIN)/.deadcode-$(DEADCODE_VERSION)
	GOBIN=$(LOCALBIN) $(GO) install golang.org/x/tools/cmd/deadcode@$(DEADCODE_VERSION)
	@touch $@
