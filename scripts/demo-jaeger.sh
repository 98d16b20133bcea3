#!/usr/bin/env bash
# make demo-jaeger: start the pinned Jaeger v2 (.tools/jaeger, `make jaeger`)
# on loopback with test/e2e/testdata/jaeger.yaml, otelcol-mesh on
# configs/local.yaml exporting to it, send a few seconds of Istio bookinfo
# traffic over OTLP and Zipkin with meshgen, then query Jaeger as Kiali does
# (GET /api/services, GET /api/traces?service=<app>.<namespace>&tags=
# {"istio.cluster_id":...}&limit=100) and print what Kiali would list: its
# services, a trace per service, the spans its service view keeps (operation
# name prefixed by <app>.<namespace>) and the error traces.
# DEMO_SECONDS (default 3) sets the traffic duration; DEMO_KEEP=1 keeps Jaeger
# running (its API on http://$JAEGER_QUERY) until Ctrl-C.
# Needs curl and jq. Ports: Jaeger's OTLP on 127.0.0.1:14317, its API on
# 127.0.0.1:16686 (JAEGER_QUERY), the collector on configs/local.yaml's.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "demo-jaeger needs $tool" >&2; exit 1; }
done
JAEGER_QUERY=${JAEGER_QUERY:-127.0.0.1:16686}
jaeger_otlp=127.0.0.1:14317
cluster=Kubernetes # istio.cluster_id meshgen's proxies send; Kiali's cluster name
out=$(mktemp -d)
jpid= cpid=
cleanup() {
  [ -n "$cpid" ] && kill "$cpid" 2>/dev/null || true
  [ -n "$jpid" ] && kill "$jpid" 2>/dev/null && wait "$jpid" 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT

sed -e "s/{{.OTLP}}/$jaeger_otlp/" -e 's/{{.Zipkin}}/127.0.0.1:19411/' \
  -e "s/{{.QueryHTTP}}/$JAEGER_QUERY/" -e 's/{{.QueryGRPC}}/127.0.0.1:16685/' \
  -e 's/{{.Health}}/127.0.0.1:14133/' -e 's/{{.MetricsPort}}/14888/' \
  test/e2e/testdata/jaeger.yaml >"$out/jaeger.yaml"
# Badger in memory rather than the memory store: Jaeger v1.76's memory store
# never matches the error=true tag of Kiali's error query.
.tools/jaeger --config "$out/jaeger.yaml" \
  --config "yaml:extensions::jaeger_storage::backends::badgerstore: {badger: {ephemeral: true, ttl: {spans: 1h}}}" \
  --config "yaml:extensions::jaeger_query::storage::traces: badgerstore" \
  --config "yaml:exporters::jaeger_storage_exporter::trace_storage: badgerstore" >"$out/jaeger.log" 2>&1 &
jpid=$!
for _ in $(seq 300); do
  curl -sf http://127.0.0.1:14133/ >/dev/null && curl -sf "http://$JAEGER_QUERY/api/services" >/dev/null && break
  kill -0 "$jpid" 2>/dev/null || { cat "$out/jaeger.log"; exit 1; }
  sleep 0.1
done

_build/otelcol-mesh --config configs/local.yaml \
  --config "yaml:exporters::otlp_grpc: {endpoint: $jaeger_otlp, tls: {insecure: true}}" \
  --config "yaml:service::pipelines::traces::exporters: [otlp_grpc]" >"$out/collector.log" 2>&1 &
cpid=$!
for _ in $(seq 100); do
  curl -sf http://localhost:13133/ >/dev/null && break
  kill -0 "$cpid" 2>/dev/null || { cat "$out/collector.log"; exit 1; }
  sleep 0.1
done

seconds=${DEMO_SECONDS:-3}
_build/meshgen -mesh istio -rate 20 -duration "${seconds}s" -error-rate 0.1 -flag-rate 0.05
_build/meshgen -mesh istio -protocol zipkin -endpoint localhost:9411 -rate 5 -duration "${seconds}s" -error-rate 0.1
kill -TERM "$cpid"
wait "$cpid" || { echo "collector did not stop cleanly"; cat "$out/collector.log"; exit 1; }
cpid=
sleep 1 # Kiali's query ends at the current whole second

api=http://$JAEGER_QUERY/api
echo
echo "What Kiali lists from Jaeger (namespace_selector: true, istio.cluster_id=$cluster):"
printf '%-36s %7s %12s %13s  %s\n' service traces error-traces service-spans "a trace"
# Kiali's query: GET /api/traces, service <app>.<namespace>, the last 10
# minutes in whole seconds, tags as JSON, a limit.
kiali_query() { # service tags-json
  local end=$(($(date +%s) * 1000000))
  curl -sfG "$api/traces" --data-urlencode "service=$1" --data-urlencode "start=$((end - 600000000))" \
    --data-urlencode "end=$end" --data-urlencode "tags=$2" --data-urlencode "limit=100"
}
for svc in $(curl -sf "$api/services" | jq -r '.data[]' | sort); do
  case $svc in *.*) ;; *) continue ;; esac # Kiali looks up <app>.<namespace>
  kiali_query "$svc" "{\"istio.cluster_id\":\"$cluster\"}" >"$out/traces.json"
  errs=$(kiali_query "$svc" "{\"error\":\"true\",\"istio.cluster_id\":\"$cluster\"}" | jq '.data | length')
  jq -r --arg s "$svc" '
    . as $r | [.data[] | . as $t | [.spans[] | select($t.processes[.processID].serviceName == $s
      and (.operationName | startswith($s)))] | length]
    | [length, (add // 0), ($r.data[0].traceID // "-")] | @tsv' \
    "$out/traces.json" | while IFS=$'\t' read -r n spans id; do
      printf '%-36s %7s %12s %13s  %s\n' "$svc" "$n" "$errs" "$spans" "$id"
    done
done
echo "(the whole trace: curl http://$JAEGER_QUERY/api/traces/<id>, or /api/v3/traces/<id> for OTLP JSON"
echo " with the resource attributes; a Jaeger built from the Go module serves a placeholder UI page)"

if [ "${DEMO_KEEP:-}" = 1 ]; then
  echo "Jaeger keeps running on http://$JAEGER_QUERY; Ctrl-C stops it."
  wait "$jpid" || true
fi
