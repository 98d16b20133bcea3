{{/* The exporter's retries and persistent sending queue, as in
configs/gateway.yaml and configs/agent.yaml: retries never give up while the
queue holds data (max_elapsed_time 0), the queue is persisted by the
journal_storage extension and bounded in bytes, and exports are batched in at
most 3 MiB (split when larger), under a gRPC receiver's default 4 MiB. A
gateway sends a batch from 64 KiB or within 30 ms (kept traces reach the
backend within settle_time plus a tick), an agent from 1 MiB or within
200 ms. */}}
{{- define "otelcol-mesh.exportQueue" -}}
retry_on_failure:
  enabled: true
  initial_interval: 1s
  max_interval: {{ ternary "10s" "5s" (eq .Values.mode "gateway") }}
  max_elapsed_time: 0
sending_queue:
  enabled: true
  storage: journal_storage
  num_consumers: 4
  sizer: bytes
  queue_size: {{ int64 .Values.queue.sizeBytes }}
  batch:
    sizer: bytes
    min_size: {{ ternary 65536 1048576 (eq .Values.mode "gateway") }}
    max_size: 3145728
    flush_timeout: {{ ternary "30ms" "200ms" (eq .Values.mode "gateway") }}
{{- end -}}

{{/* The journal_storage extension of the persistent queue, in the volume
mounted at /var/lib/otelcol-mesh (workload.yaml). */}}
{{- define "otelcol-mesh.queueStorage" -}}
# The persistent sending queue's journal. fsync {{ ternary "on: every write waits for the disk" "off: a write survives a crash of the container (page cache), not a crash of the node" .Values.queue.fsync }}.
journal_storage:
  directory: ${env:OTELCOL_MESH_STORAGE_DIR:-/var/lib/otelcol-mesh}
  create_directory: true
  fsync: {{ .Values.queue.fsync }}
{{- end -}}

{{/* The queue's volume size for an emptyDir: what the journal can take, one
and a half times the queue's bytes plus a 16 MiB segment and a 3 MiB batch
(extension/journalstorageextension/README.md), and 1 MiB to round up. */}}
{{- define "otelcol-mesh.queueVolumeMiB" -}}
{{- add (div (mul (int64 .Values.queue.sizeBytes) 3) (mul 2 1048576)) 20 -}}
{{- end -}}
