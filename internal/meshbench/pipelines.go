// Package meshbench holds the pipelines the benchmarks compare: a plain OTLP
// pass-through, the contrib transform + tail_sampling pipeline a mesh user
// would assemble by hand, and the shipped gateway and sidecar configs.
package meshbench // import "github.com/otelcol-mesh/otelcol-mesh/internal/meshbench"

// TransformConfig is the contrib transform processor doing as much of
// the mesh processor's work on Istio spans as OTTL can express: semconv
// renames and type conversions, URL parsing, protocol split, cluster-name
// parsing, response-flag errors, span renaming, canary header, credential
// redaction, node_id and canonical-service promotion to the resource, and
// the resource's proxy version. (It cannot look up the Istio release from a
// table beyond one hard-coded SHA, nor apply the idempotence guards.)
const TransformConfig = `
error_mode: ignore
trace_statements:
  - context: resource
    statements:
      - set(attributes["mesh.proxy"], "envoy") where attributes["telemetry.sdk.name"] == "envoy"
      - merge_maps(attributes, ExtractPatterns(attributes["telemetry.sdk.version"], "^(?P<sha>[0-9a-f]+)/(?P<ver>[^/]+)/"), "upsert") where attributes["telemetry.sdk.name"] == "envoy"
      - set(attributes["mesh.proxy.version"], attributes["ver"]) where attributes["ver"] != nil
      - set(attributes["mesh.version"], "1.25.0") where attributes["sha"] == "4382ac5fc1d362094bbba33283dbe60a3e1cef88"
      - delete_key(attributes, "sha")
      - delete_key(attributes, "ver")
  - context: span
    statements:
      - set(attributes["mesh.name"], "istio") where attributes["istio.canonical_service"] != nil
      - set(attributes["http.request.method"], attributes["http.method"]) where attributes["http.method"] != nil
      - set(attributes["http.response.status_code"], Int(attributes["http.status_code"])) where attributes["http.status_code"] != nil and attributes["http.status_code"] != "0"
      - set(attributes["url.full"], attributes["http.url"]) where attributes["http.url"] != nil
      - merge_maps(attributes, URL(attributes["http.url"]), "upsert") where attributes["http.url"] != nil
      - set(attributes["network.protocol.name"], "http") where attributes["http.protocol"] != nil
      - set(attributes["network.protocol.version"], attributes["http.protocol"]) where attributes["http.protocol"] != nil
      - replace_pattern(attributes["network.protocol.version"], "^HTTP/", "")
      - set(attributes["user_agent.original"], attributes["user_agent"]) where attributes["user_agent"] != nil and attributes["user_agent"] != "-"
      - set(attributes["client.address"], attributes["peer.address"]) where kind == SPAN_KIND_SERVER
      - set(attributes["network.peer.address"], attributes["peer.address"]) where attributes["peer.address"] != nil
      - set(attributes["http.request.body.size"], Int(attributes["request_size"])) where attributes["request_size"] != nil
      - set(attributes["http.response.body.size"], Int(attributes["response_size"])) where attributes["response_size"] != nil
      - set(attributes["mesh.response_flags"], attributes["response_flags"]) where attributes["response_flags"] != nil and attributes["response_flags"] != "-"
      - merge_maps(attributes, ExtractPatterns(attributes["upstream_cluster"], "^(?P<dir>inbound|outbound)\\|(?P<port>[0-9]*)\\|(?P<subset>[^|]*)\\|(?P<svc>[^.]*)\\.?(?P<ns>[^.]*)"), "upsert") where attributes["upstream_cluster"] != nil
      - set(attributes["mesh.direction"], attributes["dir"]) where attributes["dir"] != nil
      - set(attributes["mesh.destination.subset"], attributes["subset"]) where attributes["subset"] != nil and attributes["subset"] != ""
      - set(attributes["mesh.destination.service"], attributes["svc"]) where attributes["svc"] != nil and attributes["svc"] != ""
      - set(attributes["mesh.destination.namespace"], attributes["ns"]) where attributes["ns"] != nil and attributes["ns"] != ""
      - set(attributes["mesh.destination.port"], Int(attributes["port"])) where attributes["port"] != nil and attributes["port"] != ""
      - delete_matching_keys(attributes, "^(dir|port|subset|svc|ns)$")
      - set(status.code, STATUS_CODE_ERROR) where attributes["http.response.status_code"] != nil and attributes["http.response.status_code"] >= 500
      - set(status.code, STATUS_CODE_ERROR) where kind == SPAN_KIND_CLIENT and attributes["http.response.status_code"] != nil and attributes["http.response.status_code"] >= 400
      - set(attributes["error.type"], attributes["mesh.response_flags"]) where attributes["mesh.response_flags"] != nil and IsMatch(attributes["mesh.response_flags"], "UH|UF|UO|NR|URX|UT|LR|UR|UC|DC")
      - set(status.code, STATUS_CODE_ERROR) where attributes["error.type"] != nil
      - set(attributes["mesh.span.original_name"], name)
      - merge_maps(attributes, ExtractPatterns(name, "^[^/ ]+:[0-9]+(?P<route>/.+)$"), "upsert")
      - set(attributes["http.route"], attributes["route"]) where attributes["route"] != nil and attributes["route"] != "/*"
      - delete_key(attributes, "route")
      - set(name, Concat([attributes["http.request.method"], attributes["http.route"]], " ")) where attributes["http.route"] != nil
      - set(name, attributes["http.request.method"]) where attributes["http.route"] == nil and attributes["http.request.method"] != nil
      - set(attributes["mesh.canary"], true) where attributes["x-canary"] != nil
      - set(attributes["mesh.canary"], false) where attributes["x-canary"] == nil
      - set(attributes["authorization"], "REDACTED") where attributes["authorization"] != nil
      - set(attributes["proxy-authorization"], "REDACTED") where attributes["proxy-authorization"] != nil
      - set(attributes["cookie"], "REDACTED") where attributes["cookie"] != nil
      - set(attributes["set-cookie"], "REDACTED") where attributes["set-cookie"] != nil
      - merge_maps(attributes, ExtractPatterns(attributes["upstream_address"], "^(?P<peer>[^:]+):(?P<peerport>[0-9]+)$"), "upsert") where attributes["upstream_address"] != nil
      - set(attributes["network.peer.address"], attributes["peer"]) where attributes["peer"] != nil
      - set(attributes["network.peer.port"], Int(attributes["peerport"])) where attributes["peerport"] != nil
      - delete_matching_keys(attributes, "^(peer|peerport)$")
      - set(attributes["http.request.resend_count"], Int(attributes["retry.count"])) where attributes["retry.count"] != nil
      - set(attributes["error.type"], attributes["http.status_code"]) where attributes["error.type"] == nil and status.code == STATUS_CODE_ERROR
      - merge_maps(attributes, ExtractPatterns(attributes["node_id"], "^(?P<ntype>[a-z]+)~(?P<nip>[^~]*)~(?P<npod>[^.~]+)\\.(?P<nns>[^~]+)~"), "upsert") where attributes["node_id"] != nil
      - set(resource.attributes["k8s.pod.name"], attributes["npod"]) where attributes["npod"] != nil
      - set(resource.attributes["k8s.namespace.name"], attributes["nns"]) where attributes["nns"] != nil
      - set(resource.attributes["k8s.pod.ip"], attributes["nip"]) where attributes["nip"] != nil
      - set(resource.attributes["mesh.proxy.mode"], "gateway") where attributes["ntype"] == "router"
      - set(resource.attributes["mesh.proxy.mode"], attributes["ntype"]) where attributes["ntype"] != nil and attributes["ntype"] != "router"
      - delete_matching_keys(attributes, "^(ntype|nip|npod|nns)$")
      - set(resource.attributes["cloud.availability_zone"], attributes["zone"]) where attributes["zone"] != nil and attributes["zone"] != ""
      - set(resource.attributes["service.name"], attributes["istio.canonical_service"]) where attributes["istio.canonical_service"] != nil
      - set(resource.attributes["service.namespace"], attributes["istio.namespace"]) where attributes["istio.namespace"] != nil
      - set(resource.attributes["service.version"], attributes["istio.canonical_revision"]) where attributes["istio.canonical_revision"] != nil and attributes["istio.canonical_revision"] != "latest"
      - set(resource.attributes["mesh.name"], "istio") where attributes["istio.canonical_service"] != nil
`

// TailSamplingConfig is contrib tail_sampling with the policies that keep
// what the mesh sampler's default rules keep: errors, proxy failures and
// retries, traces over 1 s, canary traffic, and 10% of the rest.
const TailSamplingConfig = `
decision_wait: 5s
num_traces: 100000
expected_new_traces_per_sec: 2000
policies:
  - name: errors
    type: status_code
    status_code: {status_codes: [ERROR]}
  - name: mesh-failures
    type: string_attribute
    string_attribute: {key: mesh.response_flags, values: ["UH|UF|UO|NR|URX|UT|LR|UR|UC|DC"], enabled_regex_matching: true}
  - name: retries
    type: numeric_attribute
    numeric_attribute: {key: http.request.resend_count, min_value: 1, max_value: 1000000}
  - name: latency
    type: latency
    latency: {threshold_ms: 1000}
  - name: canary
    type: boolean_attribute
    boolean_attribute: {key: mesh.canary, value: true}
  - name: baseline
    type: probabilistic
    probabilistic: {sampling_percentage: 10}
`

// Pipeline is one collector configuration under test.
type Pipeline struct {
	Name string
	// Shipped is a file of configs/ run as it ships (the bench only moves its
	// listeners to free ports and its exporter to the sink); empty for a
	// config generated from Processors.
	Shipped string
	// Overrides are config settings (--config yaml:...) applied over Shipped.
	Overrides []string
	// Processors are the processor configs (type → YAML body) in order of a
	// generated config; a batch processor is appended to them.
	Processors []Processor
}

// Processor is a processor id and its YAML configuration.
type Processor struct{ ID, Config string }

// Pipelines are the compared pipelines.
var Pipelines = []Pipeline{
	{Name: "passthrough"},
	{Name: "contrib", Processors: []Processor{{"transform", TransformConfig}, {"tail_sampling", TailSamplingConfig}}},
	{Name: "gateway", Shipped: "gateway.yaml"},
	{Name: "sidecar", Shipped: "sidecar.yaml"},
	// Not run by default: the shipped gateway with its sending queue in
	// memory instead of on disk, to tell what durability costs.
	{Name: "gateway-memory-queue", Shipped: "gateway.yaml", Overrides: []string{"exporters::otlp_grpc::sending_queue::storage: null"}},
	// Not run by default: the shipped gateway exporting with zstd instead of
	// gzip, for backends that accept it.
	{Name: "gateway-zstd", Shipped: "gateway.yaml", Overrides: []string{"exporters::otlp_grpc::compression: zstd"}},
	// Not run by default: the shipped gateway with its queue in contrib's
	// file_storage (bbolt), as it shipped before journal_storage.
	{Name: "gateway-file-storage", Shipped: "gateway.yaml", Overrides: []string{
		"extensions::file_storage::directory: ${env:OTELCOL_MESH_STORAGE_DIR}",
		"extensions::file_storage::create_directory: true",
		"exporters::otlp_grpc::sending_queue::storage: file_storage",
		"service::extensions: [health_check, decode_guard, file_storage]",
	}},
}
