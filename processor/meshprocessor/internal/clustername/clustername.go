// Package clustername parses Istio's Envoy cluster names (upstream_cluster and
// upstream_cluster.name tags) into direction, port, subset and destination.
package clustername // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/clustername"

import (
	"errors"
	"strconv"
	"strings"
)

// Cluster is what an Istio cluster name says about the request's destination.
type Cluster struct {
	// Direction is "inbound" or "outbound"; waypoint (inbound-vip) clusters are
	// inbound to the destination service.
	Direction string
	// Port is the service port, 0 when the name has none.
	Port int
	// Subset is the DestinationRule subset, "" when none.
	Subset string
	// Host is the destination host, e.g. reviews.bookinfo.svc.cluster.local.
	Host string
	// Service and Namespace are split from a Kubernetes service host; for other
	// hosts Service is the whole host and Namespace is "".
	Service, Namespace string
	// Special names one of Envoy/Istio's built-in clusters (PassthroughCluster,
	// BlackHoleCluster, InboundPassthroughCluster); all other fields but
	// Direction are empty then.
	Special string
	// Waypoint is true for ambient waypoint clusters (inbound-vip|…).
	Waypoint bool
}

// ErrMalformed is returned for names that look like Istio clusters but do not parse.
var ErrMalformed = errors.New("malformed Istio cluster name")

// ErrNotIstio is returned for names that are not Istio cluster names (plain
// Envoy clusters such as "service_backend").
var ErrNotIstio = errors.New("not an Istio cluster name")

// maxLen bounds the input: real cluster names are short, and the tag value
// comes from the network.
const maxLen = 1024

// Parse parses an Istio cluster name. It accepts the observability name with
// its trailing ";" (Istio ≥ 1.23), the "|" form (outbound|9080|v2|host), the
// DNS-SRV form (outbound_.9080_.v2_.host), the waypoint form
// (inbound-vip|9080|http/v2|host) and the special clusters.
func Parse(name string) (Cluster, error) {
	name = strings.TrimSuffix(name, ";")
	switch name {
	case "PassthroughCluster", "BlackHoleCluster":
		return Cluster{Direction: "outbound", Special: name}, nil
	case "InboundPassthroughCluster", "InboundPassthroughClusterIpv4", "InboundPassthroughClusterIpv6":
		return Cluster{Direction: "inbound", Special: name}, nil
	}
	if len(name) > maxLen {
		return Cluster{}, ErrMalformed
	}
	var sep string
	switch {
	case strings.HasPrefix(name, "outbound|"), strings.HasPrefix(name, "inbound|"), strings.HasPrefix(name, "inbound-vip|"):
		sep = "|"
	case strings.HasPrefix(name, "outbound_."), strings.HasPrefix(name, "inbound_."):
		sep = "_."
	default:
		return Cluster{}, ErrNotIstio
	}
	var parts [4]string
	rest, ok := name, true
	for i := range 3 {
		if parts[i], rest, ok = strings.Cut(rest, sep); !ok {
			return Cluster{}, ErrMalformed
		}
	}
	parts[3] = rest
	c := Cluster{Direction: parts[0], Subset: parts[2], Host: parts[3]}
	if c.Direction == "inbound-vip" {
		// inbound-vip|9080|http/v2|host: protocol, then an optional subset.
		c.Direction, c.Waypoint = "inbound", true
		proto, subset, _ := strings.Cut(parts[2], "/")
		if proto != "http" && proto != "tcp" {
			return Cluster{}, ErrMalformed
		}
		c.Subset = subset
	}
	if parts[1] != "" {
		port, err := strconv.Atoi(parts[1])
		if err != nil || port <= 0 || port > 65535 {
			return Cluster{}, ErrMalformed
		}
		c.Port = port
	}
	if c.Direction == "outbound" && c.Host == "" {
		return Cluster{}, ErrMalformed
	}
	c.Service, c.Namespace = SplitHost(c.Host)
	return c, nil
}

// SplitHost splits a Kubernetes service host (name.ns.svc.<domain>, or
// name.ns.svc) into service and namespace. Other hosts are returned whole
// with an empty namespace.
func SplitHost(host string) (service, namespace string) {
	name, rest, ok := strings.Cut(host, ".")
	if !ok {
		return host, ""
	}
	ns, rest, ok := strings.Cut(rest, ".")
	if !ok || (rest != "svc" && !strings.HasPrefix(rest, "svc.")) || name == "" || ns == "" {
		return host, ""
	}
	return name, ns
}
