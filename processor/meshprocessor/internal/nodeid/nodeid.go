// Package nodeid parses the Envoy node id Istio gives its proxies:
// type~ip~podName.namespace~namespace.svc.cluster.local.
package nodeid // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/nodeid"

import (
	"errors"
	"net/netip"
	"strings"
)

// Node is a parsed Istio node id.
type Node struct {
	// Type is sidecar, router (gateways), waypoint or ztunnel.
	Type string
	// IP is the pod IP; empty when the field is not an IP address.
	IP string
	// Pod and Namespace name the proxy's pod.
	Pod, Namespace string
}

// ErrMalformed is returned for node ids that are not in Istio's format.
var ErrMalformed = errors.New("malformed Istio node id")

// Parse parses an Istio node id.
func Parse(id string) (Node, error) {
	if len(id) > 512 {
		return Node{}, ErrMalformed
	}
	var parts [4]string
	rest, ok := id, true
	for i := range 3 {
		if parts[i], rest, ok = strings.Cut(rest, "~"); !ok {
			return Node{}, ErrMalformed
		}
	}
	if strings.IndexByte(rest, '~') >= 0 {
		return Node{}, ErrMalformed
	}
	parts[3] = rest
	switch parts[0] {
	case "sidecar", "router", "waypoint", "ztunnel":
	default:
		return Node{}, ErrMalformed
	}
	n := Node{Type: parts[0]}
	if _, err := netip.ParseAddr(parts[1]); err == nil {
		n.IP = parts[1]
	}
	// The pod's namespace is the last dot-separated label of the third field;
	// pod names cannot contain dots only when they are DNS labels, so split
	// on the last dot and check against the fourth field's namespace.
	i := strings.LastIndexByte(parts[2], '.')
	if i <= 0 || i == len(parts[2])-1 {
		return Node{}, ErrMalformed
	}
	n.Pod, n.Namespace = parts[2][:i], parts[2][i+1:]
	if domainNS, _, _ := strings.Cut(parts[3], "."); domainNS != n.Namespace {
		return Node{}, ErrMalformed
	}
	return n, nil
}

// ProxyMode maps the node type to the mesh.proxy.mode value.
func (n Node) ProxyMode() string {
	switch n.Type {
	case "router":
		return "gateway"
	default:
		return n.Type
	}
}
