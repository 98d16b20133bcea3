# otelcol-mesh: build, run and test the distribution. Only Go is needed; the
# pinned build tools (ocb, mdatagen) are built from tools/go.mod into .tools/,
# helm (for the deploy checks) from tools/helm/go.mod, Jaeger v2 (for the
# Kiali/Jaeger e2e test) from tools/jaeger/go.mod.

GO       ?= go
TOOLS    := .tools
OCB      := $(TOOLS)/builder
MDATAGEN := $(TOOLS)/mdatagen
HELM     := $(TOOLS)/helm
JAEGER   := $(TOOLS)/jaeger
BINARY   := _build/otelcol-mesh
CONFIG   ?= configs/local.yaml

# Everything the distribution is compiled from: a change in any of these
# rebuilds the binary, and nothing else does.
SOURCES := builder-config.yaml go.mod go.sum \
	$(shell find processor receiver extension internal -type f \( -name '*.go' -o -name '*.tsv' \) ! -name '*_test.go' 2>/dev/null)

.PHONY: all build run demo demo-jaeger soak overload bench bench-pipelines bench-ceiling bench-receiver fuzz test unit-test e2e-test deploy-test lint generate tools helm jaeger clean

all: build

tools: $(OCB) $(MDATAGEN)

$(OCB) $(MDATAGEN) &: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../$(TOOLS)/ go.opentelemetry.io/collector/cmd/builder go.opentelemetry.io/collector/cmd/mdatagen

helm: $(HELM)

$(HELM): tools/helm/go.mod tools/helm/go.sum
	cd tools/helm && $(GO) build -o ../../$(HELM) helm.sh/helm/v3/cmd/helm

# Jaeger v2 for test/e2e/jaeger_test.go: about 9 minutes cold on 2 cores,
# rebuilt only when tools/jaeger/go.mod or go.sum changes.
jaeger: $(JAEGER)

$(JAEGER): tools/jaeger/go.mod tools/jaeger/go.sum
	cd tools/jaeger && $(GO) build -trimpath -o ../../$(JAEGER) github.com/jaegertracing/jaeger/cmd/jaeger

build: $(BINARY)

$(BINARY): $(OCB) $(SOURCES)
	$(OCB) --config builder-config.yaml
	@touch $@

run: $(BINARY)
	$(BINARY) --config $(CONFIG)

MESHGEN := _build/meshgen

$(MESHGEN): go.mod go.sum $(shell find internal cmd -name '*.go' ! -name '*_test.go')
	$(GO) build -o $@ ./cmd/meshgen

# Start the collector on configs/local.yaml, send a few seconds of mesh
# traffic with meshgen, and summarize what came out.
demo: $(BINARY) $(MESHGEN)
	scripts/demo.sh

# The same through otelcol-mesh into a local Jaeger v2 (loopback, query API on
# 127.0.0.1:16686), then what Kiali would list from it. Needs curl and jq.
demo-jaeger: $(BINARY) $(MESHGEN) $(JAEGER)
	scripts/demo-jaeger.sh

# The gateway config under moderate load for SOAK_DURATION (default 10m):
# prints its RSS curve and whether it plateaus. Not part of make test.
soak: $(BINARY) $(MESHGEN)
	scripts/soak.sh

# The gateway config with a 512 MiB budget under 5x its normal load for 60 s:
# RSS, refusals, error traces kept, recovery. Not part of make test.
overload: $(BINARY) $(MESHGEN)
	scripts/overload.sh

# Unit tests and end-to-end tests against the built binary, after the deploy
# checks. The Kiali/Jaeger e2e tests run the pinned Jaeger v2 (built once).
test: $(BINARY) $(JAEGER) deploy-test
	JAEGER_BINARY=$(CURDIR)/$(JAEGER) $(GO) test -count=1 -timeout 20m ./...

unit-test:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /test/e2e)

e2e-test: $(BINARY) $(JAEGER)
	JAEGER_BINARY=$(CURDIR)/$(JAEGER) $(GO) test -count=1 -timeout 20m ./test/e2e/...

# The mesh processor and the contrib transform processor (OTTL doing the same
# mapping) on the same Istio spans, in one run.
bench:
	$(GO) test -run XXX -bench 'Normalize|BufferedBytes|BenchmarkSampling' -benchmem -count 3 ./processor/meshprocessor/
	$(GO) test -run XXX -bench GatewayFloor -benchtime 5x -count 3 ./processor/meshprocessor/
	$(GO) test -run XXX -bench . -benchmem -count 3 ./processor/meshprocessor/internal/normalize/
	$(GO) test -run XXX -bench LargeTrace -benchmem -benchtime 5x ./processor/meshprocessor/internal/sampling/
	$(GO) test -run XXX -bench Tick -benchtime 200x ./processor/meshprocessor/internal/sampling/
	$(GO) test -run XXX -bench 'Materialize|ProtoDepth' -benchmem ./extension/decodeguardextension/

# The same meshgen load through pass-through, contrib transform+tail_sampling
# and the shipped configs/gateway.yaml and configs/sidecar.yaml of the built
# binary: CPU per span, peak RSS, throughput, decision latency, ratios and the
# issue 11 targets met or not. About 4 minutes per round.
BENCH_RATE ?= 2000
BENCH_DURATION ?= 20s
# BENCH_ROUNDS=3 runs the pipelines in turn three times and reports medians.
BENCH_ROUNDS ?= 1
bench-pipelines: $(BINARY)
	$(GO) build -o _build/meshbench ./cmd/meshbench
	_build/meshbench -binary $(BINARY) -configs configs -rate $(BENCH_RATE) -duration $(BENCH_DURATION) -rounds $(BENCH_ROUNDS)

# The ceiling: pass-through and the shipped gateway at the highest rate the
# load generator (pinned to CPU 0) offers, the collector pinned to CPU 1.
bench-ceiling: $(BINARY)
	$(GO) build -o _build/meshbench ./cmd/meshbench
	taskset -c 0 _build/meshbench -binary $(BINARY) -configs configs -ceiling -collector-cpus 1 -pipelines passthrough,gateway -duration $(BENCH_DURATION) -rounds $(BENCH_ROUNDS)

# Checks of deploy/ and the Dockerfile: a module of its own (test/deploy), so
# that its dependencies (k8s.io/api, istio.io/client-go, go-control-plane,
# kustomize, buildkit) never enter the distribution's go.mod.
deploy-test: $(BINARY) $(HELM)
	cd test/deploy && OTELCOL_MESH_BINARY=$(CURDIR)/$(BINARY) HELM=$(CURDIR)/$(HELM) $(GO) test -count=1 -timeout 10m ./...

# Receiver benchmarks: OpenCensus vs OTLP receiver on the same spans
# (ns/span, cpu-ns/span, spans/s/core).
bench-receiver:
	$(GO) test -run='^$$' -bench=. -benchtime=3s ./receiver/opencensusreceiver

# Fuzz the OpenCensus converter, the sampling engine's stream invariants,
# normalizing and the queue journal's recovery
# (FUZZTIME=2m each by default); new crashers land in each package's
# testdata/fuzz and then run with every make test.
FUZZTIME ?= 2m
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzTraces -fuzztime=$(FUZZTIME) ./receiver/opencensusreceiver/internal/translator
	$(GO) test -run='^$$' -fuzz=FuzzEngine -fuzztime=$(FUZZTIME) ./processor/meshprocessor/internal/sampling
	$(GO) test -run='^$$' -fuzz=FuzzNormalize -fuzztime=$(FUZZTIME) ./processor/meshprocessor/internal/normalize
	$(GO) test -run='^$$' -fuzz=FuzzOpen -fuzztime=$(FUZZTIME) ./extension/journalstorageextension/internal/journal

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd test/deploy && $(GO) vet ./...

# Regenerate mdatagen code for every component with a metadata.yaml.
generate: $(MDATAGEN)
	@for m in $$(find processor receiver extension -name metadata.yaml 2>/dev/null); do \
		echo "mdatagen $$m"; (cd $$(dirname $$m) && $(CURDIR)/$(MDATAGEN) metadata.yaml) || exit 1; \
	done

clean:
	rm -rf _build $(TOOLS)
