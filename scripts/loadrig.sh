# Shared by scripts/soak.sh and scripts/overload.sh (sourced): a backend
# otelcol-mesh that discards what it gets, the shipped gateway config in front
# of it, both on free loopback ports, and readers of RSS and internal metrics.
# Every process started is stopped on exit.
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_healthy() { # port pid log
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$1/" >/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3"; return 1; }
    sleep 0.1
  done
  cat "$3"; return 1
}

# start_backend: sets backend (its OTLP address).
start_backend() {
  local otlp health metrics
  otlp=$(free_port); health=$(free_port); metrics=$(free_port)
  _build/otelcol-mesh --config "yaml:receivers::otlp::protocols::grpc::endpoint: 127.0.0.1:$otlp" \
    --config "yaml:exporters::nop: {}" \
    --config "yaml:extensions::health_check::endpoint: 127.0.0.1:$health" \
    --config "yaml:service::extensions: [health_check]" \
    --config "yaml:service::pipelines::traces: {receivers: [otlp], exporters: [nop]}" \
    --config "yaml:service::telemetry::metrics::readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: $metrics}}}}]" \
    >"$work/backend.log" 2>&1 &
  pids+=($!)
  wait_healthy "$health" $! "$work/backend.log"
  backend=127.0.0.1:$otlp
}

# start_gateway [--config yaml:… …]: configs/gateway.yaml exporting to
# $backend; sets gw (pid), gw_otlp and gw_metrics (addresses).
start_gateway() {
  local http zipkin oc health metrics
  gw_otlp=127.0.0.1:$(free_port); http=$(free_port); zipkin=$(free_port); oc=$(free_port); health=$(free_port); metrics=$(free_port)
  OTELCOL_MESH_BACKEND_ENDPOINT=$backend OTELCOL_MESH_BACKEND_INSECURE=true OTELCOL_MESH_STORAGE_DIR=$work \
  _build/otelcol-mesh --config configs/gateway.yaml \
    --config "yaml:receivers::otlp::protocols::grpc::endpoint: $gw_otlp" \
    --config "yaml:receivers::otlp::protocols::http::endpoint: 127.0.0.1:$http" \
    --config "yaml:receivers::zipkin::endpoint: 127.0.0.1:$zipkin" \
    --config "yaml:receivers::opencensus::endpoint: 127.0.0.1:$oc" \
    --config "yaml:extensions::health_check::endpoint: 127.0.0.1:$health" \
    --config "yaml:service::telemetry::metrics::readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: $metrics}}}}]" \
    "$@" >"$work/gateway.log" 2>&1 &
  gw=$!
  pids+=($gw)
  wait_healthy "$health" $gw "$work/gateway.log"
  gw_metrics=127.0.0.1:$metrics
}

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# metric NAME [LABEL-REGEXP]: the sum of a gateway metric's series (with or
# without the _total suffix) whose labels match.
metric() {
  curl -sf "http://$gw_metrics/metrics" | awk -v name="$1" -v labels="${2:-}" '
    $1 ~ "^" name "(_total)?({|$)" && $1 ~ labels {s += $NF} END {printf "%d\n", s}'
}

mib() { bc -l <<<"$1/1024"; }
