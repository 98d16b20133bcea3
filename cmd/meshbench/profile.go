package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// profiler adds the pprof extension to a pipeline's collector: the CPU
// profile of the whole run is written when the collector stops
// (save_to_file), the heap profile is fetched when the load ends, where the
// heap is near its peak.
type profiler struct {
	dir, name, endpoint string
}

func newProfiler(dir, name string) *profiler {
	return &profiler{dir: dir, name: name, endpoint: freeAddr()}
}

// args are the config overrides that enable pprof beside the config's own
// extensions (a list given with --config replaces the list, not extends it).
func (p *profiler) args(extensions []string) []string {
	cpu, _ := filepath.Abs(filepath.Join(p.dir, p.name+".cpu.pprof"))
	return []string{
		"--config", fmt.Sprintf("yaml:extensions::pprof: {endpoint: %q, save_to_file: %q}", p.endpoint, cpu),
		"--config", "yaml:service::extensions: [" + strings.Join(slices.Concat(extensions, []string{"pprof"}), ", ") + "]",
	}
}

func (p *profiler) saveHeap() error {
	resp, err := http.Get("http://" + p.endpoint + "/debug/pprof/heap")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("heap profile: %s", resp.Status)
	}
	f, err := os.Create(filepath.Join(p.dir, p.name+".heap.pprof"))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
