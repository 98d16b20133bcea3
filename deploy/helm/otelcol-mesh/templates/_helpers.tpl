{{/* Resource name: the release name, so that release otelcol-mesh-gateway
yields the Services otelcol-mesh-gateway and otelcol-mesh-gateway-headless that
the agent mode's default values address. */}}
{{- define "otelcol-mesh.fullname" -}}
{{- .Release.Name | trunc 54 | trimSuffix "-" -}}
{{- end -}}

{{- define "otelcol-mesh.selectorLabels" -}}
app.kubernetes.io/name: otelcol-mesh
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: {{ .Values.mode }}
{{- end -}}

{{- define "otelcol-mesh.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "otelcol-mesh.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: otelcol-mesh
{{- end -}}

{{- define "otelcol-mesh.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* GOMEMLIMIT: 80% of resources.limits.memory, in MiB. */}}
{{- define "otelcol-mesh.gomemlimit" -}}
{{- $mem := toString .Values.resources.limits.memory -}}
{{- $mib := 0 -}}
{{- if hasSuffix "Gi" $mem -}}
{{- $mib = mul (trimSuffix "Gi" $mem | atoi) 1024 -}}
{{- else if hasSuffix "Mi" $mem -}}
{{- $mib = trimSuffix "Mi" $mem | atoi -}}
{{- else -}}
{{- fail "resources.limits.memory must be given in Mi or Gi" -}}
{{- end -}}
{{- printf "%dMiB" (div (mul $mib 80) 100) -}}
{{- end -}}

{{/* Default sampling.max_buffered_bytes: 25% of resources.limits.memory, in
bytes (256 MiB for 1Gi, as configs/gateway.yaml), leaving room below the
memory_limiter's 80% for data in flight and the sending queue. */}}
{{- define "otelcol-mesh.samplingBufferBytes" -}}
{{- $mem := toString .Values.resources.limits.memory -}}
{{- $mib := 0 -}}
{{- if hasSuffix "Gi" $mem -}}
{{- $mib = mul (trimSuffix "Gi" $mem | atoi) 1024 -}}
{{- else -}}
{{- $mib = trimSuffix "Mi" $mem | atoi -}}
{{- end -}}
{{- div (mul $mib 1048576) 4 -}}
{{- end -}}

{{/* Checks that the schema cannot express. */}}
{{- define "otelcol-mesh.checkValues" -}}
{{- if not (has .Values.mode (list "gateway" "agent")) -}}
{{- fail (printf "mode must be gateway or agent, not %q" .Values.mode) -}}
{{- end -}}
{{- if and (eq .Values.mode "agent") .Values.sampling -}}
{{- fail "sampling runs on the gateway: set it in the gateway release, not with mode=agent" -}}
{{- end -}}
{{- if and .Values.auth.secretName (not .Values.tls.secretName) -}}
{{- fail "auth.secretName needs tls.secretName: a bearer token is never sent or accepted in clear" -}}
{{- end -}}
{{- end -}}

{{/* Gateway mode: TLS (mutual with tls.clientAuth) and the bearer-token
authenticator of a receiver, from the Secrets mounted by workload.yaml. */}}
{{- define "otelcol-mesh.receiverSecurity" -}}
{{- if eq .Values.mode "gateway" }}
{{- with .Values.tls.secretName }}
tls:
  cert_file: /etc/otelcol-mesh/tls/tls.crt
  key_file: /etc/otelcol-mesh/tls/tls.key
  reload_interval: 1h
  {{- if $.Values.tls.clientAuth }}
  client_ca_file: /etc/otelcol-mesh/tls/ca.crt
  client_ca_file_reload: true
  {{- end }}
{{- end }}
{{- with .Values.auth.secretName }}
auth:
  authenticator: bearertokenauth
{{- end }}
{{- end }}
{{- end -}}
