package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
)

// binary is the otelcol-mesh executable under test, built once in TestMain.
var binary string

func TestMain(m *testing.M) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = os.Getenv("OTELCOL_MESH_BINARY")
	if binary == "" {
		// make rebuilds only when a source changed, so a fresh binary is reused.
		cmd := exec.Command("make", "--no-print-directory", "build")
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "make build:", err)
			os.Exit(1)
		}
		binary = filepath.Join(root, "_build", "otelcol-mesh")
	}
	os.Exit(m.Run())
}

// repoPath returns a path relative to the repository root.
func repoPath(elem ...string) string {
	return filepath.Join(append([]string{"..", ".."}, elem...)...)
}

// ports are free loopback addresses handed to a collector config template.
type ports struct {
	OTLPGRPC, OTLPHTTP, Zipkin, OpenCensus, Health, Metrics string
	MetricsPort                                             int
	Sink                                                    string
}

// freeAddr returns a loopback address that was free a moment ago and that
// it has not returned before in this test process: the kernel may hand a
// port it just released to the next caller, and two collectors (or a
// collector and a backend that is down for a while) must not get the same.
func freeAddr(t *testing.T) string {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		if _, taken := handedOut.LoadOrStore(addr, true); !taken {
			return addr
		}
	}
}

// handedOut holds every address freeAddr returned.
var handedOut sync.Map

func newPorts(t *testing.T, sink string) ports {
	p := ports{
		OTLPGRPC: freeAddr(t), OTLPHTTP: freeAddr(t), Zipkin: freeAddr(t), OpenCensus: freeAddr(t),
		Health: freeAddr(t), Metrics: freeAddr(t), Sink: sink,
	}
	_, port, _ := net.SplitHostPort(p.Metrics)
	fmt.Sscan(port, &p.MetricsPort)
	return p
}

// collector is a running otelcol-mesh process.
type collector struct {
	*process
	ports ports
}

// toSink is merged into every test config: the exporter to the test's sink,
// health_check and internal metrics on the test's ports. Test configs hold
// only their receivers, processors and pipelines (exporting to otlp_grpc).
const toSink = `
exporters:
  otlp_grpc:
    endpoint: {{.Sink}}
    tls:
      insecure: true
extensions:
  health_check:
    endpoint: {{.Health}}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: {{.MetricsPort}}
`

// startCollector renders configTemplate (merged with toSink) with free
// ports, starts the binary on it, waits for health_check readiness and stops
// it with SIGTERM at the end of the test, failing the test when it does not
// exit cleanly.
func startCollector(t *testing.T, configTemplate, sink string) *collector {
	t.Helper()
	dir := t.TempDir()
	return launch(t, sink, func(p ports) ([]string, []string) {
		var args []string
		for name, tmpl := range map[string]string{"config.yaml": configTemplate, "to-sink.yaml": toSink} {
			var cfg bytes.Buffer
			if err := template.Must(template.New(name).Parse(tmpl)).Execute(&cfg, p); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, cfg.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			args = append(args, "--config", path)
		}
		return nil, args
	})
}

// launch starts the binary with the environment and arguments that command
// derives from free ports, waits for its health_check and stops it at the end
// of the test. A port taken by someone else between choosing and binding it
// makes the collector exit at startup: launch retries with new ports then.
func launch(t *testing.T, sink string, command func(ports) (env, args []string)) *collector {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p := newPorts(t, sink)
		env, args := command(p)
		c, err := runCollector(t, p, env, args)
		if err == nil {
			return c
		}
		if attempt < 3 && c.portClash() {
			t.Logf("port collision, retrying: %v", err)
			continue
		}
		t.Fatalf("%v\n%s", err, c.log)
	}
}

func runCollector(t *testing.T, p ports, env, args []string) (*collector, error) {
	t.Helper()
	pr, err := startProcess(t, "collector", binary, args, env, func() bool { return getsOK("http://" + p.Health + "/") })
	return &collector{process: pr, ports: p}, err
}

// validate runs `otelcol-mesh validate` on a config file.
func validate(ctx context.Context, path string, env ...string) (string, error) {
	cmd := exec.CommandContext(ctx, binary, "validate", "--config", path)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return string(out), fmt.Errorf("running validate: %w", err)
	}
	return strings.TrimSpace(string(out)), err
}
