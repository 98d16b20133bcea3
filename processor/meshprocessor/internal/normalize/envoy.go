package normalize // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/normalize"

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/clustername"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/nodeid"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/semconv"
)

// Envoy's tag names (envoy: source/common/tracing/common_values.h) and the
// ones Istio adds (istio: pilot/pkg/networking/core/tracing.go).
const (
	tagNodeID              = "node_id"
	tagZone                = "zone"
	tagHTTPMethod          = "http.method"
	tagHTTPStatusCode      = "http.status_code"
	tagHTTPURL             = "http.url"
	tagHTTPProtocol        = "http.protocol"
	tagUserAgent           = "user_agent"
	tagPeerAddress         = "peer.address"
	tagUpstreamAddress     = "upstream_address"
	tagRequestSize         = "request_size"
	tagResponseSize        = "response_size"
	tagResponseFlags       = "response_flags"
	tagRetryCount          = "retry.count"
	tagUpstreamCluster     = "upstream_cluster"
	tagUpstreamClusterName = "upstream_cluster.name"
	tagGRPCStatusCode      = "grpc.status_code"
	tagError               = "error"
	tagComponent           = "component"
	tagNetHostIP           = "net.host.ip" // added by the contrib Zipkin receiver
	tagCanonicalService    = "istio.canonical_service"
	tagCanonicalRevision   = "istio.canonical_revision"
	tagIstioNamespace      = "istio.namespace"
	tagIstioClusterID      = "istio.cluster_id"
	tagDestCanonicalRev    = "istio.destination_canonical_revision"
	tagDestAppVersion      = "istio.destination_app_version"
)

// envoyTags holds the tags of one Envoy span, read in a single pass.
type envoyTags struct {
	method, statusCode, url, protocol, userAgent        string
	peerAddress, upstreamAddress, requestSize, respSize string
	responseFlags, retryCount, grpcStatus, errorTag     string
	nodeID, zone, cluster, clusterName, netHostIP       string
	canonicalService, canonicalRevision, istioNamespace string
	destRevision, destAppVersion                        string
	istio, clusterID, waypointPeers, hasOriginalName    bool
	canaryHeader, hasErrorType, hasServerAddress        bool
	originalName, urlKey                                string
	// What an earlier mesh processor wrote (read back when it removed the
	// original tags).
	prior destination
}

// isEnvoySpan reports whether a span carries Envoy's own tags: Zipkin-exported
// Envoy spans and mixed resources are recognized per span.
func isEnvoySpan(attrs pcommon.Map) bool {
	_, ok := attrs.Get(tagNodeID)
	if !ok {
		_, ok = attrs.Get(tagUpstreamCluster)
	}
	if !ok {
		_, ok = attrs.Get(tagResponseFlags)
	}
	return ok
}

func (b *batch) readEnvoyTags(attrs pcommon.Map) envoyTags {
	var t envoyTags
	for k, v := range attrs.All() {
		switch k {
		case tagHTTPMethod, semconv.HTTPRequestMethod:
			if t.method == "" || k == semconv.HTTPRequestMethod {
				t.method = b.str(k, v)
			}
		case tagHTTPStatusCode, semconv.HTTPResponseStatusCode:
			if t.statusCode == "" || k == semconv.HTTPResponseStatusCode {
				t.statusCode = b.str(k, v)
			}
		case tagHTTPURL, semconv.URLFull:
			if t.url == "" || k == semconv.URLFull {
				t.url, t.urlKey = b.str(k, v), k
			}
		case tagHTTPProtocol:
			t.protocol = b.str(k, v)
		case tagUserAgent:
			t.userAgent = b.str(k, v)
		case tagPeerAddress:
			t.peerAddress = b.str(k, v)
		case tagUpstreamAddress:
			t.upstreamAddress = b.str(k, v)
		case tagRequestSize:
			t.requestSize = b.str(k, v)
		case tagResponseSize:
			t.respSize = b.str(k, v)
		case tagResponseFlags, attrMeshResponseFlags:
			t.responseFlags = b.str(k, v)
		case tagRetryCount:
			t.retryCount = b.str(k, v)
		case tagGRPCStatusCode:
			t.grpcStatus = b.str(k, v)
		case tagError:
			// "true", or a bool after Zipkin's parse_string_tags.
			t.errorTag = v.AsString()
		case tagNodeID:
			t.nodeID = b.str(k, v)
		case tagZone:
			t.zone = b.str(k, v)
		case tagUpstreamCluster:
			t.cluster = b.str(k, v)
		case tagUpstreamClusterName:
			t.clusterName = b.str(k, v)
		case tagNetHostIP:
			t.netHostIP = b.str(k, v)
		case attrMeshOriginalName:
			t.originalName, t.hasOriginalName = b.str(k, v), true
		case semconv.ErrorType:
			t.hasErrorType = true
		case semconv.ServerAddress:
			t.hasServerAddress = true
		case attrMeshDirection:
			t.prior.direction = b.str(k, v)
		case attrMeshDestinationService:
			t.prior.service = b.str(k, v)
		case attrMeshDestinationNamespace:
			t.prior.namespace = b.str(k, v)
		case attrMeshDestinationSubset:
			t.prior.subset = b.str(k, v)
		case attrMeshDestinationPort:
			t.prior.port, _ = parseCount(b.str(k, v))
		default:
			if !strings.HasPrefix(k, "istio.") {
				if b.n.headers.inspect(k, v, true) {
					t.canaryHeader = true
				}
				continue
			}
			t.istio = true
			switch k {
			case tagCanonicalService:
				t.canonicalService = b.str(k, v)
			case tagCanonicalRevision:
				t.canonicalRevision = b.str(k, v)
			case tagIstioNamespace:
				t.istioNamespace = b.str(k, v)
			case tagIstioClusterID:
				t.clusterID = true
			case tagDestCanonicalRev:
				t.destRevision = b.str(k, v)
			case tagDestAppVersion:
				t.destAppVersion = b.str(k, v)
			default:
				if strings.HasPrefix(k, "istio.source_") || strings.HasPrefix(k, "istio.destination_") {
					t.waypointPeers = true
				}
			}
		}
	}
	return t
}

// normalizeEnvoy maps one Envoy (or Istio) span to semantic conventions and
// records what it says about its proxy in the resource's evidence. Deferred
// (b.pass), it writes only what the tail sampler decides on, then the rest.
func (b *batch) normalizeEnvoy(span ptrace.Span, res pcommon.Map) {
	attrs := span.Attributes()
	t := b.readEnvoyTags(attrs)
	client := span.Kind() == ptrace.SpanKindClient
	b.collectEnvoyEvidence(&t)

	h := httpFacts{client: client, method: t.method, hasErrorType: t.hasErrorType,
		hasServerAddress: t.hasServerAddress, hasOriginalName: t.hasOriginalName}
	h.errorTag = t.errorTag == "true"
	if t.responseFlags != "" && t.responseFlags != "-" {
		h.flags = t.responseFlags
	}
	if t.grpcStatus != "" {
		if code, name, ok := semconv.GRPCCode(t.grpcStatus); ok {
			h.grpcCode, h.grpcName, h.hasGRPC = code, name, true
		} else {
			b.malformed(tagGRPCStatusCode)
		}
	}
	dest := b.envoyDestination(&t, span.Kind(), res)

	switch b.pass {
	case passFinish:
		// What the decision pass found with the whole request stands.
		dest.direction, dest.service, dest.namespace = t.prior.direction, t.prior.service, t.prior.namespace
	case passDecision:
		attrs.EnsureCapacity(attrs.Len() + decisionKeys)
		h.putStatusCode(b, attrs, t.statusCode)
		if h.flags != "" {
			attrs.PutStr(attrMeshResponseFlags, h.flags)
		}
		dest.putDecision(attrs)
		h.setStatus(span, attrs)
		b.markEnvoyCanary(attrs, res, &t, dest)
		return
	}

	// One allocation for the keys added below instead of repeated growth.
	attrs.EnsureCapacity(attrs.Len() + addedKeys)
	h.putMethod(attrs)
	h.putStatusCode(b, attrs, t.statusCode)
	if t.url != "" {
		h.putURL(b, attrs, t.urlKey, t.url)
	}
	if name, version, ok := semconv.Protocol(t.protocol); ok {
		attrs.PutStr(semconv.NetworkProtocolName, name)
		attrs.PutStr(semconv.NetworkProtocolVersion, version)
	}
	if t.userAgent != "" && t.userAgent != "-" {
		attrs.PutStr(semconv.UserAgentOriginal, t.userAgent)
	}
	if client {
		putClientPeer(attrs, t.peerAddress, t.upstreamAddress)
	} else {
		putPeer(attrs, t.peerAddress, true)
	}
	putSize(b, attrs, semconv.HTTPRequestBodySize, tagRequestSize, t.requestSize)
	putSize(b, attrs, semconv.HTTPResponseBodySize, tagResponseSize, t.respSize)
	if n, ok := parseCount(t.retryCount); ok && n > 0 {
		attrs.PutInt(semconv.HTTPRequestResendCount, n)
	}
	if t.netHostIP != "" {
		attrs.PutStr(semconv.NetworkLocalAddress, t.netHostIP)
	}
	if h.flags != "" {
		attrs.PutStr(attrMeshResponseFlags, h.flags)
	}
	if h.hasGRPC {
		attrs.PutStr(semconv.RPCResponseStatusCode, h.grpcName)
	}

	dest.put(attrs)
	h.setStatus(span, attrs)

	name := span.Name()
	if t.hasOriginalName {
		name = t.originalName
	}
	// Kiali selects a service's spans by the route decorator name: renamed
	// only with naming: semconv.
	h.rename(span, attrs, name, dest.direction == "inbound" || span.Kind() == ptrace.SpanKindServer, !b.n.set.SemconvNames)

	b.markEnvoyCanary(attrs, res, &t, dest)
	if b.n.set.RemoveOriginalAttributes {
		attrs.RemoveIf(func(k string, _ pcommon.Value) bool { return envoyOriginals[k] })
	}
}

func (b *batch) markEnvoyCanary(attrs, res pcommon.Map, t *envoyTags, dest destination) {
	version := firstNonEmpty(t.canonicalRevision, b.evidence.version)
	if dest.waypoint {
		version = firstNonEmpty(t.destRevision, t.destAppVersion)
	}
	b.markCanary(attrs, res, canaryInput{
		subset:  dest.subset,
		version: version,
		service: dest.service,
		inbound: dest.direction == "inbound",
		header:  t.canaryHeader,
		proxy:   true,

		deferFalse: b.pass == passDecision,
	})
}

// envoyOriginals are the proxy tags mapped to semantic conventions or the
// resource, removed when remove_original_attributes is set.
var envoyOriginals = map[string]bool{
	tagNodeID: true, tagZone: true, tagHTTPMethod: true, tagHTTPStatusCode: true, tagHTTPURL: true,
	tagHTTPProtocol: true, tagUserAgent: true, tagPeerAddress: true, tagUpstreamAddress: true,
	tagRequestSize: true, tagResponseSize: true, tagResponseFlags: true, tagRetryCount: true,
	tagUpstreamCluster: true, tagUpstreamClusterName: true, tagGRPCStatusCode: true, tagError: true,
	tagComponent: true, tagNetHostIP: true, tagCanonicalService: true, tagCanonicalRevision: true,
	tagIstioNamespace: true,
}

func (b *batch) collectEnvoyEvidence(t *envoyTags) {
	ev := &b.evidence
	if t.istio {
		ev.istio = true
	}
	if t.nodeID != "" && !ev.hasNode {
		if n, err := nodeid.Parse(t.nodeID); err == nil {
			ev.node, ev.hasNode, ev.istio = n, true, true
		} else if strings.Contains(t.nodeID, "~") {
			// Only Istio node ids have "~"; plain Envoy's are free-form.
			b.malformed(tagNodeID)
		}
	}
	if t.zone != "" && ev.zone == "" {
		ev.zone = t.zone
	}
	if t.canonicalService != "" && t.canonicalService != "unknown" {
		ev.canonicalService = t.canonicalService
	}
	if t.canonicalRevision != "" && t.canonicalRevision != "latest" {
		ev.canonicalRevision = t.canonicalRevision
	}
	if t.istioNamespace != "" {
		ev.istioNamespace = t.istioNamespace
	}
	if t.clusterID {
		ev.raiseMin("1.21")
	}
	if strings.HasSuffix(t.clusterName, ";") {
		ev.raiseMin("1.23")
	}
	if t.waypointPeers {
		ev.raiseMin("1.29")
	}
}

// destination is where a span's request went, in mesh terms.
type destination struct {
	direction, service, namespace, subset string
	port                                  int64
	waypoint                              bool
}

func (d destination) put(attrs pcommon.Map) {
	d.putDecision(attrs)
	if d.port > 0 {
		attrs.PutInt(attrMeshDestinationPort, d.port)
	}
	if d.subset != "" {
		attrs.PutStr(attrMeshDestinationSubset, d.subset)
	}
}

// putDecision writes what the sampler reads of the destination. (Normalizing
// after the decision derives the port and subset again: they come with the
// cluster name, or are absent with it.)
func (d destination) putDecision(attrs pcommon.Map) {
	if d.direction != "" {
		attrs.PutStr(attrMeshDirection, d.direction)
	}
	if d.service != "" {
		attrs.PutStr(attrMeshDestinationService, d.service)
	}
	if d.namespace != "" {
		attrs.PutStr(attrMeshDestinationNamespace, d.namespace)
	}
}

func (b *batch) envoyDestination(t *envoyTags, kind ptrace.SpanKind, res pcommon.Map) destination {
	var d destination
	name := t.cluster
	if name == "" {
		name = t.clusterName
	}
	switch kind {
	case ptrace.SpanKindClient:
		d.direction = "outbound"
	case ptrace.SpanKindServer:
		d.direction = "inbound"
	}
	if name == "" && t.prior.direction != "" {
		// The cluster tags were removed by an earlier mesh processor.
		return t.prior
	}
	if name == "" || name == "-" {
		return d
	}
	c, err := clustername.Parse(name)
	switch err {
	case nil:
		b.evidence.istio = true
	case clustername.ErrNotIstio:
		// A plain Envoy cluster: its name is the destination.
		d.service = name
		return d
	default:
		b.malformed(tagUpstreamCluster)
		return d
	}
	if c.Waypoint {
		b.evidence.waypoint = true
	}
	d.direction, d.subset, d.waypoint = c.Direction, c.Subset, c.Waypoint
	d.port = int64(c.Port)
	if c.Special != "" {
		return d
	}
	d.service, d.namespace = c.Service, c.Namespace
	if c.Host == "" && c.Direction == "inbound" {
		// inbound|9080||: the destination is this workload.
		d.service = firstNonEmpty(t.canonicalService, b.evidence.canonicalService)
		if d.service == "unknown" {
			d.service = ""
		}
		d.namespace = firstNonEmpty(t.istioNamespace, b.evidence.istioNamespace, b.evidence.node.Namespace)
	}
	return d
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
