package e2e

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestCollectorModulesPinnedToOneRelease guards against ocb's `go mod tidy`
// pulling a newer collector module into the distribution (a wrong gomod path
// in builder-config.yaml makes it resolve "latest").
func TestCollectorModulesPinnedToOneRelease(t *testing.T) {
	f, err := os.Open(repoPath("_build", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	collector := regexp.MustCompile(`^\s*(go\.opentelemetry\.io/collector\S*|github\.com/open-telemetry/opentelemetry-collector-contrib/\S+) (v\S+)`)
	pinned := regexp.MustCompile(`^v(0\.161|1\.67)\.\d+$`)
	checked := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "replace") {
			continue
		}
		m := collector.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		checked++
		if !pinned.MatchString(m[2]) {
			t.Errorf("%s resolved to %s, want v0.161.x or v1.67.x", m[1], m[2])
		}
	}
	if checked < 20 {
		t.Fatalf("only %d collector modules found in _build/go.mod", checked)
	}
}
