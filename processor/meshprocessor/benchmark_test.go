package meshprocessor

import (
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-mesh/otelcol-mesh/internal/meshgen"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/metadata"
)

// transformEquivalent is the contrib transform processor doing as much of
// the mesh processor's work on Istio spans as OTTL can express: semconv
// renames and type conversions, URL parsing, protocol split, cluster-name
// parsing, response-flag errors, span renaming, canary header, credential
// redaction, node_id and canonical-service promotion to the resource, and
// the resource's proxy version. (It cannot look up the Istio release from a
// table beyond one hard-coded SHA, nor apply the idempotence guards.)
const transformEquivalent = `
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

func newTransformProcessor(b *testing.B, next consumer.Traces) processor.Traces {
	f := transformprocessor.NewFactory()
	cfg := f.CreateDefaultConfig()
	var raw map[string]any
	require.NoError(b, yaml.Unmarshal([]byte(transformEquivalent), &raw))
	require.NoError(b, confmap.NewFromStringMap(raw).Unmarshal(cfg))
	require.NoError(b, confmap.Validate(cfg))
	p, err := f.CreateTraces(b.Context(), processortest.NewNopSettings(f.Type()), cfg, next)
	require.NoError(b, err)
	require.NoError(b, p.Start(b.Context(), componenttest.NewNopHost()))
	b.Cleanup(func() { require.NoError(b, p.Shutdown(b.Context())) })
	return p
}

func newMeshProcessorForBench(b *testing.B, next consumer.Traces) processor.Traces {
	p, err := NewFactory().CreateTraces(b.Context(), processortest.NewNopSettings(metadata.Type), createDefaultConfig(), next)
	require.NoError(b, err)
	require.NoError(b, p.Start(b.Context(), componenttest.NewNopHost()))
	b.Cleanup(func() { require.NoError(b, p.Shutdown(b.Context())) })
	return p
}

// benchInput is 100 bookinfo traces (Istio sidecars and gateway, string tags).
func benchInput() ptrace.Traces {
	g := meshgen.New(meshgen.Options{Mesh: meshgen.Istio, ErrorRate: 0.05, FlagRate: 0.05, CanaryShare: 0.1, Seed: 42})
	td := ptrace.NewTraces()
	for range 100 {
		g.Next().Traces.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	}
	return td
}

// BenchmarkNormalize compares the mesh processor with the contrib transform
// processor doing the equivalent OTTL mapping, on the same spans, in one run:
//
//	go test -run XXX -bench Normalize -benchmem ./processor/meshprocessor/
func BenchmarkNormalize(b *testing.B) {
	for _, c := range []struct {
		name string
		new  func(*testing.B, consumer.Traces) processor.Traces
	}{{"mesh", newMeshProcessorForBench}, {"transform", newTransformProcessor}} {
		b.Run(c.name, func(b *testing.B) {
			input := benchInput()
			spans := input.SpanCount()
			p := c.new(b, consumertest.NewNop())
			td := ptrace.NewTraces()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				td = ptrace.NewTraces()
				input.CopyTo(td)
				b.StartTimer()
				if err := p.ConsumeTraces(b.Context(), td); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
		})
	}
}
