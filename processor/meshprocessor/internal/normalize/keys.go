package normalize // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/normalize"

// Attributes the processor writes. No semantic-convention namespace exists for
// service meshes, so these are custom keys under mesh.*.
const (
	// Resource attributes.
	attrMeshName          = "mesh.name"          // istio | linkerd | envoy
	attrMeshProxy         = "mesh.proxy"         // envoy | linkerd2-proxy
	attrMeshProxyVersion  = "mesh.proxy.version" // e.g. 1.33.1-dev
	attrMeshProxyMode     = "mesh.proxy.mode"    // sidecar | gateway | waypoint
	attrMeshVersion       = "mesh.version"       // exact mesh release, e.g. 1.25.0
	attrMeshVersionMin    = "mesh.version.min"   // lower bound when not exact, e.g. 1.23
	attrServiceName       = "service.name"
	attrServiceNamespace  = "service.namespace"
	attrServiceVersion    = "service.version"
	attrK8sPodName        = "k8s.pod.name"
	attrK8sNamespaceName  = "k8s.namespace.name"
	attrK8sPodIP          = "k8s.pod.ip"
	attrCloudZone         = "cloud.availability_zone"
	attrTelemetrySDKName  = "telemetry.sdk.name"
	attrTelemetrySDKVer   = "telemetry.sdk.version"
	attrHostName          = "host.name"
	attrServiceNameOrigin = "mesh.service.name.original" // the proxy's own service.name when replaced

	// Span attributes.
	attrMeshDirection            = "mesh.direction" // inbound | outbound
	attrMeshDestinationService   = "mesh.destination.service"
	attrMeshDestinationNamespace = "mesh.destination.namespace"
	attrMeshDestinationPort      = "mesh.destination.port"
	attrMeshDestinationSubset    = "mesh.destination.subset"
	attrMeshCanary               = "mesh.canary"
	attrMeshResponseFlags        = "mesh.response_flags"
	attrMeshOriginalName         = "mesh.span.original_name"
)

// Proxy and mesh values.
const (
	proxyEnvoy   = "envoy"
	proxyLinkerd = "linkerd2-proxy"
	meshIstio    = "istio"
	meshLinkerd  = "linkerd"
	meshEnvoy    = "envoy"
	none         = "none"
)

// addedKeys is about how many attributes normalizing adds to a proxy span.
const addedKeys = 24

// decisionKeys is at most how many attributes writing only what the
// sampler decides on adds to an Envoy span.
const decisionKeys = 8

// addedResourceKeys is at most how many attributes normalizing adds to the
// resource of Envoy spans.
const addedResourceKeys = 12
