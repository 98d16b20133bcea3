package deploy

import (
	"fmt"
	"path"
	"reflect"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// maxExportBytes bounds an export: a backend's (or gateway's) OTLP/gRPC
// receiver refuses messages over 4 MiB by default, permanently
// (ResourceExhausted), so batches stay under it with a margin.
const maxExportBytes = 3<<20 + 512<<10

// exporterOf is the id of the config's exporter of type typ.
func exporterOf(t *testing.T, c collectorConfig, typ string) string {
	t.Helper()
	for _, id := range c.pipelineComponents("exporters") {
		if componentType(id) == typ {
			return id
		}
	}
	t.Errorf("%s: no %s exporter", c.source, typ)
	return ""
}

// journalWorstCase is the most disk a journal_storage queue of queueSize
// bytes takes (extension/journalstorageextension/README.md): one and a half
// times its contents, a 16 MiB segment and a 3 MiB batch.
func journalWorstCase(queueSize int64) int64 { return queueSize*3/2 + 16<<20 + 3<<20 }

// checkDurableExport: the exporter of typ queues on disk (a journal_storage
// extension the service runs, in a writable volume of the pod that holds
// the journal's worst case), retries without a deadline, batches bounded
// in bytes under maxExportBytes, and no batch processor holds acknowledged
// data in memory ahead of the queue.
func checkDurableExport(t *testing.T, p collectorPod, typ string) {
	t.Helper()
	c := p.config
	id := exporterOf(t, c, typ)
	if id == "" {
		return
	}
	where := fmt.Sprintf("%s: exporters::%s", c.source, id)
	exp := at(c.m, "exporters", id)
	storage := str(at(exp, "sending_queue", "storage"))
	if storage == "" || componentType(storage) != "journal_storage" {
		t.Errorf("%s: sending_queue.storage %q, want a journal_storage extension (the queue survives a restart)", where, storage)
	} else if !contains(strings_(at(c.m, "service", "extensions")), storage) {
		t.Errorf("%s: storage %s is not in service.extensions", where, storage)
	}
	if at(exp, "sending_queue", "enabled") == false {
		t.Errorf("%s: sending_queue disabled", where)
	}
	if at(exp, "retry_on_failure", "enabled") != true || fmt.Sprint(at(exp, "retry_on_failure", "max_elapsed_time")) != "0" {
		t.Errorf("%s: retry_on_failure %v, want enabled with max_elapsed_time 0 (no deadline while the queue holds data)", where, at(exp, "retry_on_failure"))
	}
	batch := at(exp, "sending_queue", "batch")
	if str(at(batch, "sizer")) != "bytes" {
		t.Errorf("%s: sending_queue.batch.sizer %q, want bytes", where, str(at(batch, "sizer")))
	}
	if n, err := strconv.ParseFloat(fmt.Sprint(at(batch, "max_size")), 64); err != nil || n <= 0 || n > maxExportBytes {
		t.Errorf("%s: sending_queue.batch.max_size %v, want bytes in (0, %d]", where, at(batch, "max_size"), maxExportBytes)
	}
	for _, proc := range c.pipelineComponents("processors") {
		if componentType(proc) == "batch" {
			t.Errorf("%s: processor %s holds acknowledged data in memory ahead of the persistent queue; the queue batches", c.source, proc)
		}
	}
	if storage == "" {
		return
	}
	ext := at(c.m, "extensions", storage)
	if _, ok := ext.(map[string]any)["fsync"]; !ok {
		t.Errorf("%s: extensions::%s: state the fsync choice", c.source, storage)
	}
	dir := path.Clean(expand(str(at(ext, "directory")), p.env))
	if dir == "." || !path.IsAbs(dir) {
		t.Errorf("%s: extensions::%s directory %q, want an absolute path", c.source, storage, dir)
		return
	}
	if p.template == nil {
		return // a config without a pod (configs/)
	}
	// The directory is on a writable volume: the root filesystem is read-only.
	var volume string
	for _, m := range p.container.VolumeMounts {
		if !m.ReadOnly && (dir == path.Clean(m.MountPath) || strings.HasPrefix(dir, path.Clean(m.MountPath)+"/")) {
			volume = m.Name
		}
	}
	if volume == "" {
		t.Errorf("%s container %s: queue directory %s is on no writable volumeMount", p.object, p.container.Name, dir)
		return
	}
	found, claimed := false, false
	var capacity *resource.Quantity
	for _, v := range p.template.Spec.Volumes {
		if v.Name == volume {
			found = v.EmptyDir != nil || v.PersistentVolumeClaim != nil
			if v.EmptyDir != nil {
				capacity = v.EmptyDir.SizeLimit
			}
		}
	}
	if ss, ok := p.obj.(*appsv1.StatefulSet); ok {
		for _, vct := range ss.Spec.VolumeClaimTemplates {
			if vct.Name == volume {
				claimed = true
				if q, ok := vct.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
					capacity = &q
				}
			}
		}
	}
	if !found && !claimed {
		t.Errorf("%s: volume %s of the queue is neither an emptyDir nor a PersistentVolumeClaim", p.object, volume)
	}
	queueSize, err := strconv.ParseFloat(fmt.Sprint(at(exp, "sending_queue", "queue_size")), 64)
	switch need := journalWorstCase(int64(queueSize)); {
	case err != nil || str(at(exp, "sending_queue", "sizer")) != "bytes":
		t.Errorf("%s: sending_queue %v, want queue_size in bytes (sizer: bytes) to size the volume", where, at(exp, "sending_queue"))
	case capacity == nil:
		t.Errorf("%s: volume %s of the queue has no size (emptyDir.sizeLimit or a storage request)", p.object, volume)
	case capacity.Value() < need:
		t.Errorf("%s: volume %s holds %d bytes, the journal of a %d-byte queue can take %d", p.object, volume, capacity.Value(), int64(queueSize), need)
	}
	if sc := p.template.Spec.SecurityContext; claimed && (sc == nil || sc.FSGroup == nil) {
		t.Errorf("%s: a claimed volume needs securityContext.fsGroup to be writable by the collector's user", p.object)
	}
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// exportSettings is the part of an exporter that decides what is lost: the
// queue, retries and timeouts (endpoints and TLS aside).
func exportSettings(c collectorConfig, id string) map[string]any {
	exp := at(c.m, "exporters", id)
	out := map[string]any{}
	for _, k := range []string{"sending_queue", "retry_on_failure", "timeout"} {
		out[k] = at(exp, k)
	}
	if componentType(id) == "load_balancing" {
		for _, k := range []string{"sending_queue", "retry_on_failure", "timeout"} {
			out["protocol.otlp."+k] = at(exp, "protocol", "otlp", k)
		}
	}
	return out
}

// checkSameExport: a deployed collector exports with the queue and retry
// settings of the shipped config it mirrors (configs/gateway.yaml,
// configs/agent.yaml), apart from the queue's size.
func checkSameExport(t *testing.T, p collectorPod, shipped, typ string) {
	t.Helper()
	ref := parseCollectorConfig(t, shipped, readRepoFile(t, shipped))
	want, got := exportSettings(ref, exporterOf(t, ref, typ)), exportSettings(p.config, exporterOf(t, p.config, typ))
	for _, m := range []map[string]any{want, got} {
		if q, ok := m["sending_queue"].(map[string]any); ok {
			q = maps(q)
			delete(q, "queue_size") // sized to the volume
			m["sending_queue"] = q
		}
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%s: export settings\n%v\ndiffer from %s's\n%v", p.config.source, got, shipped, want)
	}
}

func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestShippedConfigsDurableExport: configs/gateway.yaml and configs/agent.yaml
// queue on disk, retry without a deadline and bound their exports in bytes.
func TestShippedConfigsDurableExport(t *testing.T) {
	for file, typ := range map[string]string{"configs/gateway.yaml": "otlp_grpc", "configs/agent.yaml": "load_balancing"} {
		c := parseCollectorConfig(t, file, readRepoFile(t, file))
		checkDurableExport(t, collectorPod{config: c, env: map[string]string{}}, typ)
	}
}

// TestHelmQueue: both modes of the chart queue on disk like the shipped
// configs; the gateway claims a volume per replica unless told otherwise,
// and queue.fsync and queue.sizeBytes reach the config.
func TestHelmQueue(t *testing.T) {
	pod := func(t *testing.T, objs []object) collectorPod {
		t.Helper()
		pods := checkCollectorWorkloads(t, objs)
		if len(pods) != 1 {
			t.Fatalf("%d collector containers", len(pods))
		}
		return pods[0]
	}
	t.Run("gateway", func(t *testing.T) {
		p := pod(t, render(t, "otelcol-mesh-gateway", "observability"))
		checkDurableExport(t, p, "otlp_grpc")
		checkSameExport(t, p, "configs/gateway.yaml", "otlp_grpc")
		ss, ok := p.obj.(*appsv1.StatefulSet)
		if !ok || len(ss.Spec.VolumeClaimTemplates) != 1 || ss.Spec.VolumeClaimTemplates[0].Name != "queue" {
			t.Errorf("the gateway claims no volume queue per replica")
		}
	})
	t.Run("agent", func(t *testing.T) {
		p := pod(t, render(t, "otelcol-mesh-agent", "observability", "--set", "mode=agent"))
		checkDurableExport(t, p, "load_balancing")
		checkSameExport(t, p, "configs/agent.yaml", "load_balancing")
	})
	t.Run("emptyDir, fsync, size", func(t *testing.T) {
		p := pod(t, render(t, "g", "ns", "--set", "queue.persistentVolume.enabled=false", "--set", "queue.fsync=true", "--set", "queue.sizeBytes=104857600"))
		checkDurableExport(t, p, "otlp_grpc")
		if ss := p.obj.(*appsv1.StatefulSet); len(ss.Spec.VolumeClaimTemplates) != 0 {
			t.Errorf("volumeClaimTemplates %v with persistentVolume.enabled=false", ss.Spec.VolumeClaimTemplates)
		}
		if got := at(p.config.m, "extensions", "journal_storage", "fsync"); got != true {
			t.Errorf("journal_storage fsync %v, want true", got)
		}
		if got := fmt.Sprint(at(p.config.m, "exporters", "otlp_grpc", "sending_queue", "queue_size")); got != "1.048576e+08" && got != "104857600" {
			t.Errorf("queue_size %s, want 104857600", got)
		}
	})
}
