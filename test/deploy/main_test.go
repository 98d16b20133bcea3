// Package deploy checks every file under deploy/, the Dockerfile and its
// .dockerignore: Kubernetes documents decode strictly into their typed Go
// objects and hold together (probes, ports, selectors, images, RBAC), every
// embedded collector config passes `otelcol-mesh validate`, the Helm chart
// lints and renders in both modes, the Envoy bootstrap decodes strictly with
// go-control-plane, and the Dockerfile builds the image layout the manifests
// rely on.
//
// It is a module of its own so that k8s.io/api, istio.io/client-go,
// go-control-plane, kustomize and buildkit never enter the distribution's
// go.mod. Run it with `make deploy-test` (part of `make test`), which builds
// the binary and helm first; or set OTELCOL_MESH_BINARY and HELM.
package deploy

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

var (
	// repoRoot is the absolute path of the repository root.
	repoRoot string
	// binary is the otelcol-mesh executable that validates configs.
	binary string
	// helmBinary is the pinned helm (tools/helm/go.mod).
	helmBinary string
)

func TestMain(m *testing.M) {
	flag.Parse()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	repoRoot = root
	binary = envOr("OTELCOL_MESH_BINARY", filepath.Join(root, "_build", "otelcol-mesh"))
	helmBinary = envOr("HELM", filepath.Join(root, ".tools", "helm"))
	for _, p := range []string{binary, helmBinary} {
		if _, err := exec.LookPath(p); err != nil {
			fmt.Fprintf(os.Stderr, "%s is missing: run `make deploy-test` from the repository root (it builds the binary and helm), or set OTELCOL_MESH_BINARY / HELM\n", p)
			os.Exit(1)
		}
	}
	code := m.Run()
	// Only a full run can tell whether every file was checked.
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.skip").Value.String() == "" {
		if missing := uncheckedDeployFiles(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: files under deploy/ that no test checked (add a check, or remove the file):\n  %s\n", strings.Join(missing, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// checked records the repository files (slash paths relative to the root)
// that a test has checked.
var checked sync.Map

func markChecked(rel string) { checked.Store(filepath.ToSlash(rel), true) }

// markCheckedTree marks every file below dir (relative to the root), for a
// directory that a tool consumed whole (helm lint reads all of a chart).
func markCheckedTree(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		markChecked(rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readRepoFile reads a file of the repository and marks it checked.
func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	markChecked(rel)
	return b
}

// deployFiles lists every file under deploy/, as slash paths relative to the
// repository root.
func deployFiles() ([]string, error) {
	var files []string
	err := filepath.WalkDir(filepath.Join(repoRoot, "deploy"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	sort.Strings(files)
	return files, err
}

func uncheckedDeployFiles() []string {
	files, err := deployFiles()
	if err != nil {
		return []string{err.Error()}
	}
	var missing []string
	for _, f := range files {
		if _, ok := checked.Load(f); !ok {
			missing = append(missing, f)
		}
	}
	return missing
}
