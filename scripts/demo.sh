#!/usr/bin/env bash
# make demo: start otelcol-mesh on configs/local.yaml (plus a file exporter),
# send a few seconds of Istio, Linkerd (also over OpenCensus) and plain-Envoy
# traffic with meshgen, stop the collector and summarize what came out of it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$out"' EXIT

_build/otelcol-mesh --config configs/local.yaml \
  --config "yaml:exporters::file::path: $out/traces.json" \
  --config "yaml:service::pipelines::traces::exporters: [file]" >"$out/collector.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -sf http://localhost:13133/ >/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$out/collector.log"; exit 1; }
  sleep 0.1
done

seconds=${DEMO_SECONDS:-3}
_build/meshgen -mesh istio -rate 40 -duration "${seconds}s" -canary-share 0.2
_build/meshgen -mesh istio -protocol zipkin -endpoint localhost:9411 -rate 10 -duration "${seconds}s"
_build/meshgen -mesh linkerd -rate 20 -duration "${seconds}s"
_build/meshgen -mesh linkerd -linkerd-schema 217 -rate 10 -duration "${seconds}s"
_build/meshgen -mesh linkerd -linkerd-schema 217 -protocol opencensus -rate 10 -duration "${seconds}s"
_build/meshgen -mesh envoy -rate 10 -duration "${seconds}s"

kill -TERM "$pid"
wait "$pid" || { echo "collector did not stop cleanly"; cat "$out/collector.log"; exit 1; }
echo
_build/meshgen summarize "$out/traces.json"
