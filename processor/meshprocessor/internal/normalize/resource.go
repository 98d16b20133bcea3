package normalize // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/normalize"

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/istiorelease"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/nodeid"
)

// Placeholders proxies use when they do not know the workload's service name.
const (
	envoyDefaultService   = "unknown_service:envoy"
	linkerdDefaultService = "linkerd-proxy"
	envoyUserAgentPrefix  = "OTel-OTLP-Exporter-Envoy/"
)

// evidence is what one resource and its spans say about the proxy that sent
// them; the resource attributes are written from it after the spans are read.
type evidence struct {
	proxy                               string
	serviceName, sdkName, sdkVersion    string
	scopeVersion                        string
	istio, waypoint, hasNode            bool
	node                                nodeid.Node
	zone                                string
	canonicalService, canonicalRevision string
	istioNamespace                      string
	minVersion                          string
	// The workload the resource describes, from its own keys (Linkerd pod
	// labels, service.*): the destination of inbound spans.
	service, namespace, version string
}

func newEvidence(res pcommon.Map) evidence {
	var ev evidence
	var app, appName, appVersion, versionLabel, proxyDeployment, workloadNS, k8sNS string
	linkerdKeys := false
	for k, v := range res.All() {
		if v.Type() != pcommon.ValueTypeStr {
			continue
		}
		switch k {
		case attrServiceName:
			ev.serviceName = v.Str()
		case attrServiceVersion:
			ev.version = v.Str()
		case attrTelemetrySDKName:
			ev.sdkName = v.Str()
		case attrTelemetrySDKVer:
			ev.sdkVersion = v.Str()
		case attrMeshName: // an earlier mesh processor's finding
			ev.istio = v.Str() == meshIstio
		case attrK8sNamespaceName:
			k8sNS = v.Str()
		case "app":
			app = v.Str()
		case "app.kubernetes.io/name":
			appName = v.Str()
		case "app.kubernetes.io/version":
			appVersion = v.Str()
		case "version":
			versionLabel = v.Str()
		case labelProxyDeployment:
			proxyDeployment = v.Str()
		case labelWorkloadNS:
			workloadNS = v.Str()
		default:
			if strings.HasPrefix(k, "linkerd.io/") {
				linkerdKeys = true
			}
		}
	}
	switch {
	case ev.serviceName == linkerdDefaultService || linkerdKeys || proxyDeployment != "" || workloadNS != "":
		ev.proxy = proxyLinkerd
	case ev.sdkName == "envoy" || ev.serviceName == envoyDefaultService:
		ev.proxy = proxyEnvoy
	}
	ev.service = ev.serviceName
	if ev.serviceName == linkerdDefaultService || ev.serviceName == envoyDefaultService {
		ev.service = firstNonEmpty(appName, app, proxyDeployment)
	}
	ev.namespace = firstNonEmpty(k8sNS, workloadNS)
	ev.version = firstNonEmpty(ev.version, versionLabel, appVersion)
	return ev
}

func (ev *evidence) noteScope(scope pcommon.InstrumentationScope) {
	if scope.Name() == "envoy" && scope.Version() != "" {
		ev.scopeVersion = scope.Version()
	}
}

// raiseMin records a lower bound on the mesh version.
func (ev *evidence) raiseMin(v string) {
	if ev.minVersion == v {
		return
	}
	if ev.minVersion == "" || istiorelease.Less(ev.minVersion, v) {
		ev.minVersion = v
	}
}

// writeResource writes mesh.* and promoted identity attributes and returns
// the mesh name ("none" when no proxy span was seen).
func (b *batch) writeResource(res pcommon.Map) string {
	ev := &b.evidence
	switch ev.proxy {
	case proxyEnvoy:
		return b.writeEnvoyResource(res)
	case proxyLinkerd:
		res.PutStr(attrMeshName, meshLinkerd)
		res.PutStr(attrMeshProxy, proxyLinkerd)
		res.PutStr(attrMeshProxyMode, "sidecar")
		if ev.minVersion != "" {
			res.PutStr(attrMeshVersionMin, ev.minVersion)
		}
		if hostName, ok := res.Get(attrHostName); ok {
			putIfAbsent(res, attrK8sPodName, hostName.AsString())
		}
		if ev.namespace != "" {
			putIfAbsent(res, attrK8sNamespaceName, ev.namespace)
		}
		if ev.serviceName == linkerdDefaultService {
			promoteService(res, true, ev.service, ev.namespace, ev.version)
		}
		return meshLinkerd
	}
	return none
}

func (b *batch) writeEnvoyResource(res pcommon.Map) string {
	ev := &b.evidence
	mesh := meshEnvoy
	if ev.istio {
		mesh = meshIstio
	}
	// One allocation for the keys added below instead of repeated growth.
	res.EnsureCapacity(res.Len() + addedResourceKeys)
	res.PutStr(attrMeshName, mesh)
	res.PutStr(attrMeshProxy, proxyEnvoy)

	var sha, version string
	var ok bool
	if ev.sdkName == "envoy" {
		sha, version, ok = parseEnvoyVersion(ev.sdkVersion)
	}
	if !ok {
		sha, version, ok = parseEnvoyVersion(ev.scopeVersion)
	}
	if !ok && b.userAgent != "" {
		sha, version, _ = parseEnvoyUserAgent(b.userAgent)
	}
	if version != "" {
		res.PutStr(attrMeshProxyVersion, version)
	}
	if ev.zone != "" {
		putIfAbsent(res, attrCloudZone, ev.zone)
	}
	if mesh != meshIstio {
		return mesh
	}

	exact := ""
	if sha != "" {
		if sha != b.lastSHA { // one proxy build per batch, usually
			b.lastSHA, b.lastReleases = sha, b.n.set.Releases.Lookup(sha)
		}
		switch releases := b.lastReleases; len(releases) {
		case 0:
		case 1:
			exact = releases[0]
		default: // one build shipped in several releases: only the first is certain
			ev.raiseMin(releases[0])
		}
	}
	if exact != "" {
		res.PutStr(attrMeshVersion, exact)
		res.Remove(attrMeshVersionMin)
	} else if _, known := res.Get(attrMeshVersion); !known && ev.minVersion != "" {
		// (An exact version an earlier pass found, from the export's
		// User-Agent, says more than a lower bound.)
		res.PutStr(attrMeshVersionMin, ev.minVersion)
	}

	ns := ev.istioNamespace
	switch {
	case ev.hasNode:
		res.PutStr(attrMeshProxyMode, ev.node.ProxyMode())
		putIfAbsent(res, attrK8sPodName, ev.node.Pod)
		if ev.node.IP != "" {
			putIfAbsent(res, attrK8sPodIP, ev.node.IP)
		}
		ns = firstNonEmpty(ns, ev.node.Namespace)
	case ev.waypoint:
		res.PutStr(attrMeshProxyMode, "waypoint")
	}
	if ns != "" {
		putIfAbsent(res, attrK8sNamespaceName, ns)
	}

	// Istio names the proxy's service "<app>.<namespace>" (or the Envoy
	// default); the canonical service tag, else the app part, is the real one.
	// Kiali looks traces up by "<app>.<namespace>": it is replaced only with
	// naming: semconv. The Envoy default is a placeholder Kiali never reads.
	placeholder := ev.serviceName == envoyDefaultService || ev.serviceName == ""
	istioName := false
	service := ev.canonicalService
	if app, found := cutNamespace(ev.serviceName, ns); found {
		istioName = true
		if service == "" && app != "istio-proxy" {
			service = app
		}
	}
	if placeholder || istioName {
		promoteService(res, placeholder || b.n.set.SemconvNames, service, ns, ev.canonicalRevision)
	}
	return mesh
}

// promoteService writes the workload's service identity found behind the
// proxy's service.name: service.namespace and service.version when absent,
// and with rename the service name itself, keeping the proxy's in
// mesh.service.name.original.
func promoteService(res pcommon.Map, rename bool, service, namespace, version string) {
	if service == "" {
		return
	}
	if rename {
		if old, ok := res.Get(attrServiceName); ok && old.AsString() != service {
			res.PutStr(attrServiceNameOrigin, old.AsString())
		}
		res.PutStr(attrServiceName, service)
	}
	if namespace != "" {
		putIfAbsent(res, attrServiceNamespace, namespace)
	}
	if version != "" {
		putIfAbsent(res, attrServiceVersion, version)
	}
}

// cutNamespace cuts "."+ns off s without building that suffix; an empty ns
// never matches.
func cutNamespace(s, ns string) (string, bool) {
	n := len(s) - len(ns) - 1
	if ns == "" || n < 0 || s[n] != '.' || s[n+1:] != ns {
		return s, false
	}
	return s[:n], true
}

func putIfAbsent(m pcommon.Map, key, value string) {
	if _, ok := m.Get(key); !ok {
		m.PutStr(key, value)
	}
}

// parseEnvoyVersion splits Envoy's build version string,
// "<istio/proxy or envoy sha>/<version>/<Clean|Modified>/<RELEASE|DEBUG>/<ssl>".
func parseEnvoyVersion(s string) (sha, version string, ok bool) {
	if s == "" || len(s) > 256 {
		return "", "", false
	}
	first, rest, found := strings.Cut(s, "/")
	if !found {
		// A bare version such as "1.33.1".
		if isVersion(first) {
			return "", first, true
		}
		return "", "", false
	}
	version, _, _ = strings.Cut(rest, "/")
	if !isHex(first) || len(first) < 7 || !isVersion(version) {
		return "", "", false
	}
	return strings.ToLower(first), version, true
}

// parseEnvoyUserAgent reads "OTel-OTLP-Exporter-Envoy/<version string>" (gRPC
// appends its own product token after a space).
func parseEnvoyUserAgent(ua string) (sha, version string, ok bool) {
	rest, found := strings.CutPrefix(ua, envoyUserAgentPrefix)
	if !found {
		return "", "", false
	}
	rest, _, _ = strings.Cut(rest, " ")
	return parseEnvoyVersion(rest)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return s != ""
}

func isVersion(s string) bool {
	return len(s) >= 3 && s[0] >= '0' && s[0] <= '9' && strings.IndexByte(s, '.') > 0
}
