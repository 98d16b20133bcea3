package translator // import "github.com/otelcol-mesh/otelcol-mesh/receiver/opencensusreceiver/internal/translator"

import (
	"fmt"

	commonpb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/common/v1"
	resourcepb "github.com/census-instrumentation/opencensus-proto/gen-go/resource/v1"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Resource attribute keys written from the OpenCensus Node and Resource.
const (
	// KeyServiceName is Node.service_info.name.
	KeyServiceName = "service.name"
	// KeyHostName is Node.identifier.host_name (the pod name for Linkerd).
	KeyHostName = "host.name"
	// KeyProcessPID is Node.identifier.pid (int).
	KeyProcessPID = "process.pid"
	// KeyProcessStartTimestamp is Node.identifier.start_timestamp as int Unix
	// seconds, the key and type Linkerd's own OTLP exporter uses.
	KeyProcessStartTimestamp = "process.start_timestamp"
	// KeySDKName is "opencensus" when the Node carries library_info.
	KeySDKName = "telemetry.sdk.name"
	// KeySDKLanguage is Node.library_info.language in semantic-convention
	// spelling (go, java, nodejs, python, cpp, dotnet, erlang, php, ruby, webjs).
	KeySDKLanguage = "telemetry.sdk.language"
	// KeySDKVersion is Node.library_info.core_library_version.
	KeySDKVersion = "telemetry.sdk.version"
	// KeyExporterVersion is Node.library_info.exporter_version (no semantic
	// convention exists for it).
	KeyExporterVersion = "opencensus.exporter_version"
	// KeyResourceType is Resource.type, e.g. "k8s" or "host" (no semantic
	// convention exists for it).
	KeyResourceType = "opencensus.resource_type"

	// SDKName is the value of telemetry.sdk.name for OpenCensus libraries.
	SDKName = "opencensus"
)

var languages = map[commonpb.LibraryInfo_Language]string{
	commonpb.LibraryInfo_CPP:     "cpp",
	commonpb.LibraryInfo_C_SHARP: "dotnet",
	commonpb.LibraryInfo_ERLANG:  "erlang",
	commonpb.LibraryInfo_GO_LANG: "go",
	commonpb.LibraryInfo_JAVA:    "java",
	commonpb.LibraryInfo_NODE_JS: "nodejs",
	commonpb.LibraryInfo_PHP:     "php",
	commonpb.LibraryInfo_PYTHON:  "python",
	commonpb.LibraryInfo_RUBY:    "ruby",
	commonpb.LibraryInfo_WEB_JS:  "webjs",
}

// checkNode rejects a node whose start timestamp cannot be represented.
func checkNode(node *commonpb.Node) error {
	if ts := node.GetIdentifier().GetStartTimestamp(); ts != nil {
		if _, err := timestamp(ts); err != nil {
			return fmt.Errorf("node.identifier.start_timestamp %w", err)
		}
	}
	return nil
}

// putResource writes the resource attributes of node and res to attrs, in
// this order, later keys overriding earlier ones: the Node's identity
// (service.name, host.name, process.pid, process.start_timestamp), library
// info (telemetry.sdk.*, opencensus.exporter_version), the Node's attributes
// with their raw keys (Linkerd's pod labels: app, version,
// linkerd.io/workload-ns …), opencensus.resource_type, and the Resource's
// labels with their raw keys. Empty or zero Node fields are left out.
// checkNode must have accepted node.
func putResource(attrs pcommon.Map, node *commonpb.Node, res *resourcepb.Resource) {
	attrs.EnsureCapacity(8 + len(node.GetAttributes()) + len(res.GetLabels()))
	if name := node.GetServiceInfo().GetName(); name != "" {
		attrs.PutStr(KeyServiceName, name)
	}
	id := node.GetIdentifier()
	if host := id.GetHostName(); host != "" {
		attrs.PutStr(KeyHostName, host)
	}
	if pid := id.GetPid(); pid != 0 {
		attrs.PutInt(KeyProcessPID, int64(pid))
	}
	if ts := id.GetStartTimestamp(); ts != nil {
		attrs.PutInt(KeyProcessStartTimestamp, ts.GetSeconds())
	}
	if lib := node.GetLibraryInfo(); lib != nil {
		attrs.PutStr(KeySDKName, SDKName)
		if lang, ok := languages[lib.GetLanguage()]; ok {
			attrs.PutStr(KeySDKLanguage, lang)
		}
		if v := lib.GetCoreLibraryVersion(); v != "" {
			attrs.PutStr(KeySDKVersion, v)
		}
		if v := lib.GetExporterVersion(); v != "" {
			attrs.PutStr(KeyExporterVersion, v)
		}
	}
	for k, v := range node.GetAttributes() {
		attrs.PutStr(k, v)
	}
	if t := res.GetType(); t != "" {
		attrs.PutStr(KeyResourceType, t)
	}
	for k, v := range res.GetLabels() {
		attrs.PutStr(k, v)
	}
}
