#!/usr/bin/env bash
# make soak: the shipped gateway config (mesh tail sampling on) under moderate
# meshgen load for SOAK_DURATION (default 10m), exporting to a second
# otelcol-mesh that discards what it gets. Samples the gateway's RSS every
# SOAK_INTERVAL seconds and says whether it plateaus: the mean RSS of the
# last third of the run within SOAK_TOLERANCE (default 10%) of the middle
# third's. Loopback only, free ports, both processes stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${SOAK_DURATION:-10m}
rate=${SOAK_RATE:-300}          # traces/s, 9 spans each for Istio
interval=${SOAK_INTERVAL:-10}
tolerance=${SOAK_TOLERANCE:-10} # percent
source scripts/loadrig.sh
start_backend
start_gateway

_build/meshgen -mesh istio -endpoint "$gw_otlp" -rate "$rate" -batch 10 -duration "$duration" >"$work/meshgen.log" 2>&1 &
gen=$!; pids+=($gen)

echo "soak: gateway pid $gw, $rate traces/s for $duration, RSS every ${interval}s"
printf '%8s %10s %14s %12s\n' seconds rss_mib buffered_mib refused
start=$(date +%s)
samples=()
while kill -0 "$gen" 2>/dev/null; do
  sleep "$interval"
  kill -0 "$gw" 2>/dev/null || { echo "gateway exited"; cat "$work/gateway.log"; exit 1; }
  rss=$(rss_kib "$gw")
  buffered=$(metric otelcol_processor_mesh_sampling_bytes_buffered)
  refused=$(metric otelcol_receiver_refused_spans)
  samples+=("$rss")
  printf '%8d %10.1f %14.1f %12d\n' $(( $(date +%s) - start )) "$(mib "$rss")" "$(bc -l <<<"$buffered/1048576")" "$refused"
done
wait "$gen" || { echo "meshgen failed"; cat "$work/meshgen.log"; exit 1; }

n=${#samples[@]}
if (( n < 6 )); then echo "too few samples ($n) to judge a plateau"; exit 1; fi
third=$(( n / 3 ))
mid=0; last=0
for ((i = third; i < 2 * third; i++)); do mid=$(( mid + samples[i] )); done
for ((i = n - third; i < n; i++)); do last=$(( last + samples[i] )); done
growth=$(bc -l <<<"($last - $mid) * 100 / $mid")
peak=$(printf '%s\n' "${samples[@]}" | sort -n | tail -1)
printf 'middle third mean %.1f MiB, last third mean %.1f MiB, growth %.1f%%, peak %.1f MiB\n' \
  "$(bc -l <<<"$mid/$third/1024")" "$(bc -l <<<"$last/$third/1024")" "$growth" "$(bc -l <<<"$peak/1024")"
if (( $(bc <<<"$growth > $tolerance") )); then
  echo "RSS does not plateau (growth above ${tolerance}%)"; exit 1
fi
echo "RSS plateaus (growth within ${tolerance}%)"
kill -TERM "$gw"; wait "$gw" || { echo "gateway did not stop cleanly"; exit 1; }
