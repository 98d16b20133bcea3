package deploy

import (
	"strings"
	"testing"
)

// TestDeployReadme: deploy/README.md names every file of deploy/ (the chart by
// its directory) and the pitfalls; the top-level README points to it.
func TestDeployReadme(t *testing.T) {
	readme := string(readRepoFile(t, "deploy/README.md"))
	files, err := deployFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("only %d files under deploy/", len(files))
	}
	for _, f := range files {
		rel := strings.TrimPrefix(f, "deploy/")
		if rel == "README.md" {
			continue
		}
		if strings.HasPrefix(f, chartDir+"/") {
			rel = strings.TrimPrefix(chartDir, "deploy/")
		}
		if !strings.Contains(readme, "("+rel+")") {
			t.Errorf("deploy/README.md does not link %s", rel)
		}
	}
	for _, fact := range []string{
		"cannot export to localhost",      // Istio
		"must be meshed",                  // Linkerd
		"OpenCensus",                      // Linkerd <= 2.17
		"55678",                           // its port
		"opencensus` receiver",            // what it needs
		"EndpointSlice",                   // load_balancing k8s resolver RBAC
		"sidecar.opentelemetry.io/inject", // Operator annotation
		"GOMEMLIMIT",
		"all spans of a trace must reach one gateway replica", // tail sampling
		"internalTrafficPolicy: Local",                        // the agents' Service
		"`sampling.enabled: false`",                           // when the gateway Service may be named
		wantAgent.fqdn,                                        // where senders send
		"`" + wantAgent.serviceAccount + "`",                  // the identity Linkerd checks
		"`" + wantGateway.serviceAccount + "`",
		"config.linkerd.io/trace-collector: localhost:55678", // Linkerd to the sidecar, no identity
	} {
		if !strings.Contains(readme, fact) {
			t.Errorf("deploy/README.md does not mention %q", fact)
		}
	}
	if top := string(readRepoFile(t, "README.md")); !strings.Contains(top, "(deploy/README.md)") {
		t.Error("README.md does not link deploy/README.md")
	}
}
