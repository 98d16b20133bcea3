package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// process is a program a test started (the collector, Jaeger): its
// combined output and its exit.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan error // receives Wait's result once; whoever reads it puts it back
}

// startProcess starts bin with env added to this process's environment,
// stops it with SIGTERM when the test ends, and waits at most 30 s until
// ready reports true. The process is returned with its log also on error.
func startProcess(t *testing.T, name, bin string, args, env []string, ready func() bool) (*process, error) {
	t.Helper()
	pr := &process{name: name, log: &bytes.Buffer{}, done: make(chan error, 1)}
	pr.cmd = exec.Command(bin, args...)
	pr.cmd.Env = append(os.Environ(), env...)
	pr.cmd.Stdout, pr.cmd.Stderr = pr.log, pr.log
	require.NoError(t, pr.cmd.Start())
	go func() { pr.done <- pr.cmd.Wait() }()
	t.Cleanup(func() { pr.stop(t) })

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-pr.done:
			pr.done <- err
			return pr, fmt.Errorf("%s exited during startup: %v", name, err)
		default:
		}
		if ready() {
			return pr, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return pr, fmt.Errorf("%s not ready within 30s", name)
}

// portClash reports whether the process failed to start because a port it
// was given got taken meanwhile (then the caller retries with new ports).
func (pr *process) portClash() bool {
	return strings.Contains(pr.log.String(), "address already in use")
}

// stop ends the process with SIGTERM (SIGKILL after 20 s) and fails the
// test unless it exits cleanly.
func (pr *process) stop(t *testing.T) {
	t.Helper()
	if pr.cmd.ProcessState != nil {
		return
	}
	_ = pr.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-pr.done:
		pr.done <- err
		if err != nil {
			t.Errorf("%s did not exit cleanly after SIGTERM: %v\n%s", pr.name, err, pr.log)
		}
	case <-time.After(20 * time.Second):
		_ = pr.cmd.Process.Kill()
		<-pr.done
		t.Errorf("%s still running 20s after SIGTERM; killed\n%s", pr.name, pr.log)
	}
}

// getsOK reports whether a GET of u answers 200.
func getsOK(u string) bool {
	resp, err := http.Get(u)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
