# otelcol-mesh: build, run and test the distribution. Only Go is needed; the
# pinned build tools (ocb, mdatagen) are built from tools/go.mod into .tools/.

GO       ?= go
TOOLS    := .tools
OCB      := $(TOOLS)/builder
MDATAGEN := $(TOOLS)/mdatagen
BINARY   := _build/otelcol-mesh
CONFIG   ?= configs/local.yaml

# Everything the distribution is compiled from: a change in any of these
# rebuilds the binary, and nothing else does.
SOURCES := builder-config.yaml go.mod go.sum \
	$(shell find processor receiver -type f \( -name '*.go' -o -name '*.tsv' \) ! -name '*_test.go' 2>/dev/null)

.PHONY: all build run test unit-test e2e-test bench fuzz lint generate tools clean

all: build

tools: $(OCB) $(MDATAGEN)

$(OCB) $(MDATAGEN) &: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../$(TOOLS)/ go.opentelemetry.io/collector/cmd/builder go.opentelemetry.io/collector/cmd/mdatagen

build: $(BINARY)

$(BINARY): $(OCB) $(SOURCES)
	$(OCB) --config builder-config.yaml
	@touch $@

run: $(BINARY)
	$(BINARY) --config $(CONFIG)

# Unit tests, then end-to-end tests against the built binary.
test: $(BINARY)
	$(GO) test -count=1 -timeout 20m ./...

unit-test:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /test/e2e)

e2e-test: $(BINARY)
	$(GO) test -count=1 -timeout 20m ./test/e2e/...

# Receiver benchmarks: OpenCensus vs OTLP receiver on the same spans
# (ns/span, cpu-ns/span, spans/s/core).
bench:
	$(GO) test -run='^$$' -bench=. -benchtime=3s ./receiver/opencensusreceiver

# Fuzz the OpenCensus converter (FUZZTIME=2m by default); new crashers land in
# receiver/opencensusreceiver/internal/translator/testdata/fuzz.
FUZZTIME ?= 2m
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzTraces -fuzztime=$(FUZZTIME) ./receiver/opencensusreceiver/internal/translator

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Regenerate mdatagen code for every component with a metadata.yaml.
generate: $(MDATAGEN)
	@for m in $$(find processor receiver -name metadata.yaml 2>/dev/null); do \
		echo "mdatagen $$m"; (cd $$(dirname $$m) && $(CURDIR)/$(MDATAGEN) metadata.yaml) || exit 1; \
	done

clean:
	rm -rf _build $(TOOLS)
