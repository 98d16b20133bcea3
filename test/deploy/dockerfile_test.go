package deploy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"sigs.k8s.io/yaml"
)

// builderConfig is the part of the ocb manifest these tests use.
type builderConfig struct {
	Dist struct {
		Name       string `json:"name"`
		OutputPath string `json:"output_path"`
		Version    string `json:"version"`
	} `json:"dist"`
}

func readBuilderConfig(t *testing.T) builderConfig {
	t.Helper()
	var bc builderConfig
	if err := yaml.Unmarshal(readRepoFile(t, "builder-config.yaml"), &bc); err != nil {
		t.Fatal(err)
	}
	if bc.Dist.Version == "" || bc.Dist.Name == "" {
		t.Fatal("builder-config.yaml: dist.name or dist.version missing")
	}
	return bc
}

func distVersion(t *testing.T) string { return readBuilderConfig(t).Dist.Version }

// image is what the Dockerfile's final stage holds.
type image struct {
	files      map[string]string // image path -> repository path, for files COPYied from the build context
	binary     string            // image path of the collector binary
	uid        int64
	entrypoint []string
	cmd        []string
	expose     []int32
}

var (
	imageOnce   sync.Once
	imageParsed image
	imageErrs   []string
)

// dockerImage parses the Dockerfile once; TestDockerfile reports its errors.
func dockerImage(t *testing.T) image {
	t.Helper()
	imageOnce.Do(func() { imageParsed, imageErrs = parseDockerfile(t) })
	if len(imageErrs) > 0 {
		t.Fatalf("Dockerfile:\n%s", strings.Join(imageErrs, "\n"))
	}
	return imageParsed
}

type stage struct {
	base, name string
	workdir    string
	args       map[string]string
	nodes      []*parser.Node
}

func nodeArgs(n *parser.Node) []string {
	var out []string
	for a := n.Next; a != nil; a = a.Next {
		out = append(out, a.Value)
	}
	return out
}

func flagValue(n *parser.Node, name string) (string, bool) {
	for _, f := range n.Flags {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func parseDockerfile(t *testing.T) (image, []string) {
	var errs []string
	fail := func(format string, args ...any) {
		errs = append(errs, "  "+fmt.Sprintf(format, args...))
	}
	res, err := parser.Parse(bytes.NewReader(readRepoFile(t, "Dockerfile")))
	if err != nil {
		return image{}, []string{err.Error()}
	}
	for _, w := range res.Warnings {
		fail("parser warning: %s", w.Short)
	}
	ignore := dockerignore(t)

	var stages []*stage
	for _, n := range res.AST.Children {
		n.Value = strings.ToLower(n.Value) // instructions are case-insensitive
		if n.Value == "from" {
			a := nodeArgs(n)
			s := &stage{base: a[0], workdir: "/", args: map[string]string{}}
			if len(a) == 3 && strings.EqualFold(a[1], "as") {
				s.name = a[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if n.Value != "arg" {
				fail("line %d: %s before FROM", n.StartLine, n.Value)
			}
			continue
		}
		stages[len(stages)-1].nodes = append(stages[len(stages)-1].nodes, n)
	}
	if len(stages) < 2 {
		return image{}, []string{"want a multi-stage build: a Go build stage and a minimal final stage"}
	}
	build, final := stages[0], stages[len(stages)-1]
	if !strings.HasPrefix(build.base, "golang:1.26") {
		fail("the build stage is FROM %s, want golang:1.26 (the Go of go.mod)", build.base)
	}
	if final.base != "scratch" && !strings.HasPrefix(final.base, "gcr.io/distroless/") {
		fail("the final stage is FROM %s, want scratch or distroless", final.base)
	}

	bc := readBuilderConfig(t)
	builtBinary := path.Join(bc.Dist.OutputPath, bc.Dist.Name) // relative to the build context
	img := image{files: map[string]string{}}
	ranMakeBuild := false
	for _, s := range stages {
		for _, n := range s.nodes {
			a := nodeArgs(n)
			expandArgs := func(v string) string {
				return os.Expand(v, func(k string) string { return s.args[k] })
			}
			switch n.Value {
			case "arg":
				for _, kv := range a {
					k, v, _ := strings.Cut(kv, "=")
					s.args[k] = v
				}
			case "workdir":
				s.workdir = path.Join(s.workdir, a[0])
			case "run":
				if s == build && strings.Contains(strings.Join(a, " "), "make build") {
					ranMakeBuild = true
				}
			case "copy", "add":
				if n.Value == "add" {
					fail("line %d: ADD: use COPY", n.StartLine)
				}
				if len(a) < 2 {
					fail("line %d: COPY needs a source and a destination", n.StartLine)
					continue
				}
				srcs, dst := a[:len(a)-1], a[len(a)-1]
				if !path.IsAbs(dst) {
					dst = path.Join(s.workdir, dst) + map[bool]string{true: "/"}[strings.HasSuffix(dst, "/")]
				}
				from, fromStage := flagValue(n, "from")
				for _, src := range srcs {
					target := dst
					if strings.HasSuffix(dst, "/") || len(srcs) > 1 {
						target = path.Join(dst, path.Base(src))
					}
					if !fromStage {
						checkContextSource(src, ignore, fail, n.StartLine)
						if s == final {
							img.files[path.Clean(target)] = path.Clean(src)
						}
						continue
					}
					if from != build.name {
						fail("line %d: COPY --from=%s: no such stage", n.StartLine, from)
						continue
					}
					if s == final && strings.HasSuffix(src, "/"+path.Base(builtBinary)) {
						if rel, ok := strings.CutPrefix(src, build.workdir+"/"); !ok || rel != builtBinary {
							fail("line %d: COPY --from=%s %s: ocb writes the binary to %s/%s", n.StartLine, from, src, build.workdir, builtBinary)
						}
						img.binary = path.Clean(target)
					}
				}
			case "user":
				if s != final {
					continue
				}
				u, _, _ := strings.Cut(expandArgs(a[0]), ":")
				uid, err := strconv.ParseInt(u, 10, 64)
				if err != nil {
					fail("line %d: USER %s: want a numeric uid (Kubernetes runAsNonRoot cannot check a name)", n.StartLine, a[0])
				}
				img.uid = uid
			case "entrypoint":
				if s == final {
					img.entrypoint = jsonForm(n, a, fail)
				}
			case "cmd":
				if s == final {
					img.cmd = jsonForm(n, a, fail)
				}
			case "expose":
				for _, p := range a {
					v, err := strconv.ParseInt(strings.TrimSuffix(p, "/tcp"), 10, 32)
					if err != nil {
						fail("line %d: EXPOSE %s", n.StartLine, p)
					}
					img.expose = append(img.expose, int32(v))
				}
			}
		}
	}
	if !ranMakeBuild {
		fail("the build stage does not run `make build` (the pinned ocb)")
	}
	if img.uid == 0 {
		fail("the final stage runs as root: want USER 10001")
	}
	if img.binary == "" {
		fail("the final stage does not copy %s from the build stage", builtBinary)
	}
	if !slices.Equal(img.entrypoint, []string{img.binary}) {
		fail("ENTRYPOINT %v, want [%s] (the Operator and the manifests pass only arguments)", img.entrypoint, img.binary)
	}
	if len(img.cmd) != 2 || img.cmd[0] != "--config" {
		fail("CMD %v, want [--config <file>]", img.cmd)
	} else if _, ok := img.files[img.cmd[1]]; !ok {
		fail("CMD names %s, which the image does not have", img.cmd[1])
	}
	return img, errs
}

func jsonForm(n *parser.Node, a []string, fail func(string, ...any)) []string {
	if !n.Attributes["json"] {
		fail("line %d: %s in shell form: the final image has no shell, use the JSON form", n.StartLine, strings.ToUpper(n.Value))
	}
	return a
}

// checkContextSource checks that a COPY source from the build context exists
// in the repository and is not excluded by .dockerignore.
func checkContextSource(src string, ignore *patternmatcher.PatternMatcher, fail func(string, ...any), line int) {
	clean := path.Clean(src)
	matches, err := filepath.Glob(filepath.Join(repoRoot, filepath.FromSlash(clean)))
	if err != nil || len(matches) == 0 {
		fail("line %d: COPY %s: no such file in the repository", line, src)
		return
	}
	if clean == "." {
		return
	}
	if excluded, _ := ignore.MatchesOrParentMatches(clean); excluded {
		fail("line %d: COPY %s: excluded by .dockerignore", line, src)
	}
}

func dockerignore(t *testing.T) *patternmatcher.PatternMatcher {
	t.Helper()
	patterns, err := ignorefile.ReadAll(bytes.NewReader(readRepoFile(t, ".dockerignore")))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return pm
}

func TestDockerfile(t *testing.T) {
	img := dockerImage(t)
	if img.uid != 10001 {
		t.Errorf("USER %d, want 10001", img.uid)
	}
	for imagePath, repoPath := range map[string]string{
		"/etc/otelcol-mesh/sidecar.yaml": "configs/sidecar.yaml",
		"/etc/otelcol-mesh/gateway.yaml": "configs/gateway.yaml",
	} {
		if got := img.files[imagePath]; got != repoPath {
			t.Errorf("the image's %s comes from %q, want %s", imagePath, got, repoPath)
		}
	}
	if want := []string{"--config", "/etc/otelcol-mesh/gateway.yaml"}; !slices.Equal(img.cmd, want) {
		t.Errorf("CMD %v, want %v (the gateway by default)", img.cmd, want)
	}

	// The gateway's persistent queue directory (its default, without the
	// environment) exists in the image, owned by the image's user: scratch
	// has no other way to create it, and the collector exits without it.
	storage := regexp.MustCompile(`OTELCOL_MESH_STORAGE_DIR:-([^}]+)\}`).FindSubmatch(readRepoFile(t, "configs/gateway.yaml"))
	if storage == nil {
		t.Fatal("configs/gateway.yaml: no ${env:OTELCOL_MESH_STORAGE_DIR:-<default>}")
	}
	if !regexp.MustCompile(`(?m)^COPY --from=build --chown=\$\{USER_UID\}:\$\{USER_UID\} \S+ ` + regexp.QuoteMeta(string(storage[1])) + `$`).Match(readRepoFile(t, "Dockerfile")) {
		t.Errorf("the image has no %s owned by its user (COPY --from=build --chown=${USER_UID}:${USER_UID} … %[1]s)", storage[1])
	}

	// The default command's config validates as the image runs it (no
	// environment) and the image exposes exactly the ports it listens on.
	cfg := parseCollectorConfig(t, img.files[img.cmd[1]], readRepoFile(t, img.files[img.cmd[1]]))
	cfg.validate(t, nil)
	ls, err := cfg.listeners(nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []int32
	for _, l := range ls {
		if !l.loopback() {
			want = append(want, l.port)
		}
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(img.expose))
	if !slices.Equal(got, want) {
		t.Errorf("EXPOSE %v, the default config listens on %v", got, want)
	}
}

// TestDockerignore: the build context holds every file `make build` needs and
// none of the host's build outputs.
func TestDockerignore(t *testing.T) {
	ignore := dockerignore(t)
	out, err := exec.Command("git", "-C", repoRoot, "ls-files").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	needed := 0
	for _, f := range strings.Fields(string(out)) {
		need := slices.Contains([]string{"Makefile", "builder-config.yaml", "go.mod", "go.sum", "tools/go.mod", "tools/go.sum", "configs/sidecar.yaml", "configs/gateway.yaml"}, f) ||
			(strings.HasPrefix(f, "processor/") || strings.HasPrefix(f, "receiver/")) && !strings.HasSuffix(f, "_test.go")
		if !need {
			continue
		}
		needed++
		if excluded, _ := ignore.MatchesOrParentMatches(f); excluded {
			t.Errorf(".dockerignore excludes %s, which the image build needs", f)
		}
	}
	if needed < 10 {
		t.Errorf("only %d files of the build found: is git ls-files right?", needed)
	}
	for _, f := range []string{"_build/otelcol-mesh", ".tools/builder", ".tools/helm"} {
		if excluded, _ := ignore.MatchesOrParentMatches(f); !excluded {
			t.Errorf(".dockerignore lets the host's %s into the build context", f)
		}
	}
}
