# zeroflow: `make run` starts the main job, `make test` runs every test.
# Everything else the targets need is installed with `go install` into ./bin.

GO       ?= go
BIN      := $(CURDIR)/bin
ZEROFLOW := $(BIN)/zeroflow

CONTROLLER_GEN_VERSION := v0.23.0
STATICCHECK_VERSION    := v0.8.2
K6_VERSION             := v1.8.1
# MinIO, a real S3 server for the artifact-store tests (DESIGN.md §10).
MINIO_VERSION          := v0.0.0-20260212201848-7aac2a2c5b7c

CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
STATICCHECK    := $(BIN)/staticcheck-$(STATICCHECK_VERSION)
K6             := $(BIN)/k6-$(K6_VERSION)
MINIO          := $(BIN)/minio-$(MINIO_VERSION)

# Benchmarks: how many runs to take the median of, and for how long each.
BENCH_COUNT ?= 5
BENCH_TIME  ?= 1s

.PHONY: run build kubectl k6 load fuzz e2e-long test test-short bench generate lint tools clean cluster-up e2e-cluster

## run: build zeroflow and run `zeroflow dev` on the log-pipeline example
run: build
	$(ZEROFLOW) dev examples/log-pipeline

## build: build the zeroflow binary into ./bin
build:
	$(GO) build -o $(ZEROFLOW) ./cmd/zeroflow

## kubectl: build kubectl from the pinned k8s.io/kubectl into ./bin (for machines without one)
kubectl:
	$(GO) build -o $(BIN)/kubectl ./hack/kubectl

## test: run every test (unit, component, integration and end to end); installs MinIO first
test: $(MINIO)
	ZEROFLOW_MINIO=$(MINIO) $(GO) test -count=1 -timeout 15m ./...

## test-short: the fast tests only (no API server, no binaries)
test-short:
	$(GO) test -short ./...

## bench: run the benchmarks and print tables of medians (see docs/benchmarks.md)
bench: $(K6)
	BENCH_COUNT=$(BENCH_COUNT) BENCH_TIME=$(BENCH_TIME) K6=$(K6) ./hack/bench.sh

## k6: install the pinned k6 (go install) into ./bin
k6: $(K6)

## load: with `make run` going, send a burst of LOAD_COUNT webhooks (default 500) with k6
LOAD_COUNT ?= 500
LOAD_URL   ?= http://127.0.0.1:12000/workflow-a
load: $(K6)
	$(K6) run --quiet --no-usage-report -e URL=$(LOAD_URL) -e COUNT=$(LOAD_COUNT) hack/k6/burst.js

## cluster-up: a kind cluster with Knative and zeroflow (needs Docker, kind, ko, internet; docs/deploy.md)
cluster-up:
	./hack/cluster-up.sh

## e2e-cluster: Workflow-A under a k6 burst on that cluster, with the local end-to-end test's counts
e2e-cluster: $(K6)
	K6=$(K6) ./hack/e2e-cluster.sh

## e2e-long: the long end-to-end runs that do not fit make test: a 20-minute step (ZEROFLOW_LONG_STEP), two controllers under a burst of HA_BURST webhooks (default 500; 50 in make test) with the leader SIGKILLed
ZEROFLOW_LONG_STEP ?= 20m
HA_BURST ?= 500
e2e-long: $(MINIO)
	ZEROFLOW_MINIO=$(MINIO) ZEROFLOW_LONG_STEP=$(ZEROFLOW_LONG_STEP) $(GO) test -count=1 -timeout 60m -run 'TestLongStepsEndToEnd' ./examples/long-steps/
	ZEROFLOW_HA_BURST=$(HA_BURST) $(GO) test -count=1 -timeout 30m -run '^TestTwoControllerProcessesUnderABurstLoseTheLeader$$' ./cmd/zeroflow/

## fuzz: fuzz the broker ingress, the webhook, the data filters and expression literals (FUZZ_TIME each, default 10m; FUZZ_FLAGS, e.g. -parallel 1)
FUZZ_TIME ?= 10m
FUZZ_FLAGS ?=
fuzz:
	$(GO) test ./broker/ -run '^$$' -fuzz '^FuzzIngress$$' -fuzztime $(FUZZ_TIME) $(FUZZ_FLAGS)
	$(GO) test ./functions/webhook/ -run '^$$' -fuzz '^FuzzWebhook$$' -fuzztime $(FUZZ_TIME) $(FUZZ_FLAGS)
	$(GO) test ./functions/filter/ -run '^$$' -fuzz '^FuzzMatch$$' -fuzztime $(FUZZ_TIME) $(FUZZ_FLAGS)
	$(GO) test ./internal/expression/ -run '^$$' -fuzz '^FuzzSubstituteLiterals$$' -fuzztime $(FUZZ_TIME) $(FUZZ_FLAGS)

## generate: regenerate deepcopy functions and CRDs from api/, and the manifests render builds
generate: $(CONTROLLER_GEN)
	$(CONTROLLER_GEN) object paths=./api/...
	rm -f manifests/crds/zeroflow.dev_*.yaml
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:dir=./manifests/crds
	$(GO) run ./hack/genmanifests

# GENERATED is every file `make generate` writes (controller-gen's, and
# internal/genmanifests' Files), so that lint notices a stale one.
GENERATED = api/v1alpha1/zz_generated.deepcopy.go manifests/crds/zeroflow.dev_*.yaml \
	manifests/functions/builtins.yaml \
	manifests/controller/triggers.yaml manifests/controller/pingsource.yaml manifests/controller/identity-patch.yaml \
	manifests/policies/eventpolicies.yaml \
	manifests/broker/kafka/broker.yaml manifests/broker/mt/broker.yaml \
	manifests/examples/*/knative.yaml

## lint: gofmt, go vet, staticcheck, and generated code up to date
lint: $(STATICCHECK) $(CONTROLLER_GEN)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@before=$$(cat $(GENERATED) | sha256sum); $(MAKE) -s generate >/dev/null; after=$$(cat $(GENERATED) | sha256sum); \
	  [ "$$before" = "$$after" ] || { echo "generated code was stale: make generate rewrote it; review and commit"; exit 1; }

## tools: install the pinned tools into ./bin
tools: $(CONTROLLER_GEN) $(STATICCHECK)

$(CONTROLLER_GEN):
	./hack/install-tool.sh sigs.k8s.io/controller-tools/cmd/controller-gen $(CONTROLLER_GEN_VERSION) $@

$(STATICCHECK):
	./hack/install-tool.sh honnef.co/go/tools/cmd/staticcheck $(STATICCHECK_VERSION) $@

$(K6):
	./hack/install-tool.sh go.k6.io/k6 $(K6_VERSION) $@

$(MINIO):
	./hack/install-tool.sh github.com/minio/minio $(MINIO_VERSION) $@

clean:
	rm -rf $(BIN) .zeroflow
