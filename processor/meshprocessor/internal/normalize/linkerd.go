package normalize // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/normalize"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/clustername"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/semconv"
)

// linkerd2-proxy span tags (linkerd2-proxy: linkerd/trace-context/src/service.rs),
// all strings, by release line, and what they become:
//
//	tag                          ≤ 2.17   2.18   2.19   normalized to
//	direction                    ✓        ✓      ✓      mesh.direction
//	http.method                  ✓                      http.request.method
//	http.request.method                   ✓      ✓      (kept; normalized value)
//	http.status_code             ✓                      http.response.status_code (int)
//	http.response.status_code             ✓      ✓      (int)
//	http.path                    ✓                      url.path, url.query
//	http.authority / http.host   ✓                      server.address, server.port
//	server.address, server.port           ✓      ✓      (port as int) → mesh.destination.*
//	url.full                                     ✓      url.scheme, url.path, url.query
//	network.transport,
//	user_agent.original                          ✓      (kept; mark 2.19)
//
// The schema found bounds the release (mesh.version.min 2.18 or 2.19);
// ≤ 2.17 proxies also export over OpenCensus (receiver/opencensusreceiver).
const (
	tagDirection     = "direction"
	tagHTTPPath      = "http.path"
	tagHTTPAuthority = "http.authority"
	tagHTTPHost      = "http.host"
	tagL5dOrigProto  = "http.request.header.l5d-orig-proto"

	// Pod labels the proxy puts on its resource.
	labelWorkloadNS      = "linkerd.io/workload-ns"
	labelProxyDeployment = "linkerd.io/proxy-deployment"
)

// linkerdOriginals are the ≤ 2.17 tags mapped to semantic conventions.
var linkerdOriginals = map[string]bool{
	tagHTTPMethod: true, tagHTTPStatusCode: true, tagHTTPPath: true, tagHTTPAuthority: true, tagHTTPHost: true,
}

type linkerdTags struct {
	direction, method, statusCode, path, authority, urlFull, serverAddress, serverPort string
	originalName                                                                       string
	hasOriginalName, semconvSchema, schema219, legacySchema, normalized                bool
	canaryHeader, hasErrorType, hasServerAddress                                       bool
}

// isLinkerdSpan recognizes a Linkerd span whose resource did not say so.
func isLinkerdSpan(attrs pcommon.Map) bool {
	d, ok := attrs.Get(tagDirection)
	if !ok || (d.Str() != "inbound" && d.Str() != "outbound") {
		return false
	}
	if _, ok := attrs.Get(tagL5dOrigProto); ok {
		return true
	}
	_, ok = attrs.Get(tagHTTPAuthority)
	return ok
}

func (b *batch) readLinkerdTags(attrs pcommon.Map) linkerdTags {
	var t linkerdTags
	for k, v := range attrs.All() {
		switch k {
		case tagDirection:
			t.direction = b.str(k, v)
		case attrMeshDirection:
			t.direction, t.normalized = b.str(k, v), true
		case tagHTTPMethod:
			t.legacySchema = true
			if t.method == "" {
				t.method = b.str(k, v)
			}
		case semconv.HTTPRequestMethod:
			t.method, t.semconvSchema = b.str(k, v), true
		case tagHTTPStatusCode:
			if t.statusCode == "" {
				t.statusCode = b.str(k, v)
			}
		case semconv.HTTPResponseStatusCode:
			t.statusCode = b.str(k, v)
		case tagHTTPPath:
			t.path = b.str(k, v)
		case tagHTTPAuthority:
			t.authority = b.str(k, v)
		case tagHTTPHost:
			if t.authority == "" {
				t.authority = b.str(k, v)
			}
		case semconv.URLFull:
			t.urlFull, t.schema219 = b.str(k, v), true
		case semconv.NetworkTransport, semconv.UserAgentOriginal:
			t.schema219 = true
		case semconv.ServerAddress:
			t.serverAddress, t.hasServerAddress = b.str(k, v), true
		case semconv.ErrorType:
			t.hasErrorType = true
		case semconv.ServerPort:
			t.serverPort = b.str(k, v)
		case attrMeshOriginalName:
			t.originalName, t.hasOriginalName = b.str(k, v), true
		default:
			if b.n.headers.inspect(k, v, true) {
				t.canaryHeader = true
			}
		}
	}
	return t
}

// normalizeLinkerd maps one linkerd2-proxy span to semantic conventions.
func (b *batch) normalizeLinkerd(span ptrace.Span, res pcommon.Map) {
	attrs := span.Attributes()
	t := b.readLinkerdTags(attrs)
	attrs.EnsureCapacity(attrs.Len() + addedKeys)
	// The tag schema bounds the Linkerd version; keys written by an earlier
	// mesh processor (mesh.direction is always among them) say nothing.
	switch {
	case t.normalized || t.legacySchema:
	case t.schema219:
		b.evidence.raiseMin("2.19")
	case t.semconvSchema:
		b.evidence.raiseMin("2.18")
	}

	h := httpFacts{client: span.Kind() == ptrace.SpanKindClient, method: t.method, hasErrorType: t.hasErrorType,
		hasServerAddress: t.hasServerAddress, hasOriginalName: t.hasOriginalName}
	h.putMethod(attrs)
	h.putStatusCode(b, attrs, t.statusCode)
	if t.urlFull != "" {
		h.putURL(b, attrs, semconv.URLFull, t.urlFull)
	} else if t.path != "" {
		h.putURL(b, attrs, tagHTTPPath, t.path)
	}
	if t.authority != "" {
		host, port := semconv.HostPort(t.authority)
		attrs.PutStr(semconv.ServerAddress, host)
		t.serverAddress, t.serverPort = host, port
		h.hasServerAddress = true
	}
	if t.serverPort != "" {
		if port, ok := semconv.Port(t.serverPort); ok {
			attrs.PutInt(semconv.ServerPort, port)
		} else {
			attrs.Remove(semconv.ServerPort)
			b.malformed(semconv.ServerPort)
		}
	}

	d := destination{direction: t.direction}
	if d.direction == "inbound" {
		// The request was served by this workload.
		d.service = b.evidence.service
		d.namespace = b.evidence.namespace
		d.subset = b.evidence.version
	} else if t.serverAddress != "" {
		d.service, d.namespace = clustername.SplitHost(t.serverAddress)
	}
	if port, ok := semconv.Port(t.serverPort); ok {
		d.port = port
	}
	d.put(attrs)
	h.setStatus(span, attrs)

	// Linkerd names spans by raw path: never keep that as the name.
	original := span.Name()
	if t.hasOriginalName {
		original = t.originalName
	}
	if h.semMethod == "" {
		h.semMethod = "HTTP"
	}
	h.rename(span, attrs, original, false, false)

	b.markCanary(attrs, res, canaryInput{
		subset:  d.subset,
		version: b.evidence.version,
		service: d.service,
		inbound: d.direction == "inbound",
		header:  t.canaryHeader,
		proxy:   true,
	})
	if b.n.set.RemoveOriginalAttributes {
		attrs.RemoveIf(func(k string, _ pcommon.Value) bool { return linkerdOriginals[k] || k == tagDirection })
	}
}
