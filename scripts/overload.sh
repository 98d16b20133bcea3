#!/usr/bin/env bash
# make overload: the shipped gateway config with a memory budget
# (OVERLOAD_LIMIT_MIB, default 512: memory_limiter limit, GOMEMLIMIT at 80%,
# the sampler's buffer at an eighth) under three phases of meshgen Istio load
# with 5% error traces: normal (OVERLOAD_RATE traces/s, default 400) for
# 15 s, five times that for OVERLOAD_DURATION (default 60s), normal again for
# 20 s. Prints RSS and the gateway's counters every 5 s, then checks: peak RSS
# under the limit, refusals counted, no error trace dropped by a decision, and
# nothing refused any more once the load is back to normal.
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${OVERLOAD_RATE:-400}
duration=${OVERLOAD_DURATION:-60s}
limit=${OVERLOAD_LIMIT_MIB:-512}
source scripts/loadrig.sh
start_backend
GOMEMLIMIT=$(( limit * 8 / 10 ))MiB start_gateway \
  --config "yaml:processors::memory_limiter: {check_interval: 100ms, limit_mib: $limit, spike_limit_mib: $(( limit / 4 ))}" \
  --config "yaml:processors::mesh::sampling::max_buffered_bytes: $(( limit * 1024 * 1024 / 8 ))"

load() { # senders seconds
  local ps=()
  for i in $(seq "$1"); do
    _build/meshgen -mesh istio -endpoint "$gw_otlp" -rate "$rate" -batch 10 -error-rate 0.05 -duration "$2" -seed "$RANDOM$i" >>"$work/meshgen.log" 2>&1 &
    ps+=($!); pids+=($!)
  done
  sample_while "${ps[@]}"
  for p in "${ps[@]}"; do wait "$p" || true; done
}

start=$(date +%s)
sample_while() {
  while kill -0 "$1" 2>/dev/null; do
    sleep 5
    kill -0 "$gw" 2>/dev/null || { echo "gateway exited"; tail -50 "$work/gateway.log"; exit 1; }
    printf '%6d %-9s %8.1f %12d %12d %12d %10d %8d %8d\n' $(( $(date +%s) - start )) "$phase" "$(mib "$(rss_kib "$gw")")" \
      "$(metric otelcol_receiver_accepted_spans)" "$(metric otelcol_receiver_refused_spans)" \
      "$(metric otelcol_processor_mesh_sampling_dropped_spans)" "$(metric otelcol_processor_mesh_sampling_bytes_buffered)" \
      "$(metric otelcol_processor_mesh_sampling_stress_relief)" \
      "$(metric otelcol_processor_mesh_sampling_decisions 'rule="errors".*outcome="kept"|outcome="kept".*rule="errors"')"
  done
}

echo "overload: gateway pid $gw, limit $limit MiB, normal $rate traces/s, overload 5x for $duration"
printf '%6s %-9s %8s %12s %12s %12s %10s %8s %8s\n' s phase rss_mib accepted refused sampler_drop buffered stress err_kept
phase=normal; load 1 15s
refused_before=$(metric otelcol_receiver_refused_spans)
phase=overload; load 5 "$duration"
sleep 5 # the overload's last requests settle
phase=recovery
refused_at_recovery=$(metric otelcol_receiver_refused_spans)
load 1 20s
sleep 3
peak=$(hwm_kib "$gw")
refused_after=$(metric otelcol_receiver_refused_spans)
errors_dropped=$(metric otelcol_processor_mesh_sampling_decisions 'rule="errors".*outcome="dropped"|outcome="dropped".*rule="errors"')
printf 'peak RSS %.1f MiB (limit %d MiB); refused %d during the overload, %d after it; error-rule decisions dropped: %d\n' \
  "$(mib "$peak")" "$limit" $(( refused_at_recovery - refused_before )) $(( refused_after - refused_at_recovery )) "$errors_dropped"
status=0
(( peak < limit * 1024 )) || { echo "FAIL: peak RSS over the limit"; status=1; }
(( refused_after == refused_at_recovery )) || { echo "FAIL: still refusing at normal load"; status=1; }
(( errors_dropped == 0 )) || { echo "FAIL: error traces dropped"; status=1; }
kill -TERM "$gw"; wait "$gw" || { echo "FAIL: gateway did not stop cleanly"; status=1; }
exit $status
