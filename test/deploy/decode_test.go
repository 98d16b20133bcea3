package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiotelemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// object is one decoded Kubernetes document.
type object struct {
	source    string // file or render it came from, for messages
	kind      string // apiVersion/kind
	name      string
	namespace string
	obj       any // typed pointer: *appsv1.StatefulSet, *otelCollector, ...
}

func (o object) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", o.kind, o.namespace, o.name, o.source)
}

// strictJSON decodes JSON into v, rejecting unknown and duplicate fields and
// matching field names case-sensitively, as the API server's strict field
// validation does.
func strictJSON(data []byte, v any) error {
	strictErrs, err := sigsjson.UnmarshalStrict(data, v)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

// strictYAML converts YAML to JSON (rejecting duplicate keys) and decodes it
// strictly into v.
func strictYAML(data []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return err
	}
	return strictJSON(j, v)
}

// strictProto decodes the JSON form of a protobuf message, rejecting unknown
// fields. istio.io/api's own UnmarshalJSON allows unknown fields, so Istio
// specs go through this instead.
func strictProto(data []byte, m proto.Message) error {
	return protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(data, m)
}

// splitDocs splits a multi-document YAML stream, dropping empty documents.
func splitDocs(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var v any
		if err := yaml.Unmarshal(doc, &v); err != nil {
			return nil, err
		}
		if v != nil {
			docs = append(docs, doc)
		}
	}
}

// istioEnvelope is an Istio resource whose spec is decoded with protojson.
type istioEnvelope struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            json.RawMessage   `json:"spec"`
}

// istioOperator is the part of install.istio.io/v1alpha1 IstioOperator that
// deploy/istio uses: spec.meshConfig, a MeshConfig decoded with protojson.
// (The IstioOperator type lives in istio.io/istio, far too big a module for
// this; the strict decoding rejects any other spec key.)
type istioOperator struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		MeshConfig json.RawMessage `json:"meshConfig"`
	} `json:"spec"`
	meshConfig *meshv1alpha1.MeshConfig
}

// decodeDocs strictly decodes every document of a YAML stream into its typed
// object. Documents without a namespace get defaultNamespace.
func decodeDocs(t *testing.T, source string, data []byte, defaultNamespace string) []object {
	t.Helper()
	docs, err := splitDocs(data)
	if err != nil {
		t.Fatalf("%s: %v", source, err)
	}
	var objs []object
	for i, doc := range docs {
		o, err := decodeObject(doc)
		if err != nil {
			t.Errorf("%s: document %d: %v", source, i+1, err)
			continue
		}
		o.source = source
		if o.namespace == "" && !clusterScoped(o.kind) {
			o.namespace = defaultNamespace
		}
		objs = append(objs, o)
	}
	return objs
}

func clusterScoped(kind string) bool {
	switch kind {
	case "v1/Namespace", "rbac.authorization.k8s.io/v1/ClusterRole", "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
		return true
	}
	return false
}

func decodeObject(doc []byte) (object, error) {
	var tm struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return object{}, err
	}
	o := object{kind: tm.APIVersion + "/" + tm.Kind, name: tm.Metadata.Name, namespace: tm.Metadata.Namespace}
	if o.name == "" {
		return o, fmt.Errorf("%s without metadata.name", o.kind)
	}
	var err error
	switch o.kind {
	case "v1/Namespace":
		o.obj, err = decodeTyped[corev1.Namespace](doc)
	case "v1/ServiceAccount":
		o.obj, err = decodeTyped[corev1.ServiceAccount](doc)
	case "v1/ConfigMap":
		o.obj, err = decodeTyped[corev1.ConfigMap](doc)
	case "v1/Service":
		o.obj, err = decodeTyped[corev1.Service](doc)
	case "apps/v1/Deployment":
		o.obj, err = decodeTyped[appsv1.Deployment](doc)
	case "apps/v1/StatefulSet":
		o.obj, err = decodeTyped[appsv1.StatefulSet](doc)
	case "apps/v1/DaemonSet":
		o.obj, err = decodeTyped[appsv1.DaemonSet](doc)
	case "policy/v1/PodDisruptionBudget":
		o.obj, err = decodeTyped[policyv1.PodDisruptionBudget](doc)
	case "rbac.authorization.k8s.io/v1/Role":
		o.obj, err = decodeTyped[rbacv1.Role](doc)
	case "rbac.authorization.k8s.io/v1/RoleBinding":
		o.obj, err = decodeTyped[rbacv1.RoleBinding](doc)
	case "rbac.authorization.k8s.io/v1/ClusterRole":
		o.obj, err = decodeTyped[rbacv1.ClusterRole](doc)
	case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
		o.obj, err = decodeTyped[rbacv1.ClusterRoleBinding](doc)
	case "monitoring.coreos.com/v1/ServiceMonitor":
		o.obj, err = decodeTyped[monitoringv1.ServiceMonitor](doc)
	case "monitoring.coreos.com/v1/PodMonitor":
		o.obj, err = decodeTyped[monitoringv1.PodMonitor](doc)
	case "monitoring.coreos.com/v1/PrometheusRule":
		o.obj, err = decodeTyped[monitoringv1.PrometheusRule](doc)
	case "opentelemetry.io/v1beta1/OpenTelemetryCollector":
		o.obj, err = decodeTyped[otelCollector](doc)
	case "networking.istio.io/v1/DestinationRule":
		o.obj, err = decodeIstio(doc, func(e istioEnvelope) (*istionetworkingv1.DestinationRule, proto.Message) {
			r := &istionetworkingv1.DestinationRule{TypeMeta: e.TypeMeta, ObjectMeta: e.Metadata}
			return r, &r.Spec
		})
	case "networking.istio.io/v1/VirtualService":
		o.obj, err = decodeIstio(doc, func(e istioEnvelope) (*istionetworkingv1.VirtualService, proto.Message) {
			r := &istionetworkingv1.VirtualService{TypeMeta: e.TypeMeta, ObjectMeta: e.Metadata}
			return r, &r.Spec
		})
	case "telemetry.istio.io/v1/Telemetry":
		o.obj, err = decodeIstio(doc, func(e istioEnvelope) (*istiotelemetryv1.Telemetry, proto.Message) {
			r := &istiotelemetryv1.Telemetry{TypeMeta: e.TypeMeta, ObjectMeta: e.Metadata}
			return r, &r.Spec
		})
	case "install.istio.io/v1alpha1/IstioOperator":
		var iop *istioOperator
		if iop, err = decodeTyped[istioOperator](doc); err == nil {
			iop.meshConfig = &meshv1alpha1.MeshConfig{}
			if err = strictProto(iop.Spec.MeshConfig, iop.meshConfig); err != nil {
				err = fmt.Errorf("spec.meshConfig: %w", err)
			}
		}
		o.obj = iop
	default:
		return o, fmt.Errorf("%s: a kind these tests do not know: add it to decodeObject", o.kind)
	}
	if err != nil {
		return o, fmt.Errorf("%s %s: %w", o.kind, o.name, err)
	}
	return o, nil
}

func decodeTyped[T any](doc []byte) (*T, error) {
	v := new(T)
	return v, strictYAML(doc, v)
}

func decodeIstio[T any](doc []byte, build func(istioEnvelope) (*T, proto.Message)) (*T, error) {
	var e istioEnvelope
	if err := strictYAML(doc, &e); err != nil {
		return nil, err
	}
	obj, spec := build(e)
	if err := strictProto(e.Spec, spec); err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	return obj, nil
}

// ofType returns the objects of one Go type.
func ofType[T any](objs []object) []*T {
	var out []*T
	for _, o := range objs {
		if v, ok := o.obj.(*T); ok {
			out = append(out, v)
		}
	}
	return out
}

// find returns the object of type T with that namespace and name.
func find[T any](objs []object, namespace, name string) *T {
	for _, o := range objs {
		if v, ok := o.obj.(*T); ok && o.name == name && o.namespace == namespace {
			return v
		}
	}
	return nil
}

// TestStrictDecodingRejects proves that the decoding above fails on what it
// must fail on, so that the passing decodes elsewhere mean something.
func TestStrictDecodingRejects(t *testing.T) {
	cases := map[string]string{
		"unknown field": `apiVersion: v1
kind: Service
metadata: {name: s}
spec: {selectr: {a: b}}`,
		"wrong case": `apiVersion: v1
kind: Service
metadata: {name: s}
spec: {Selector: {a: b}}`,
		"duplicate key": `apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {a: x, a: y}`,
		"unknown container field": `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: d}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec: {containers: [{name: c, image: i, livenessprobe: {}}]}`,
		"unknown Istio spec field (istio.io/api itself would accept it)": `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v}
spec: {hosts: [a], htp: []}`,
		"unknown MeshConfig field": `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: i}
spec: {meshConfig: {extensionProviders: [{name: p, opentelemetry: {service: s, port: 4317, resourceDetector: {}}}]}}`,
		"unknown Operator field": `apiVersion: opentelemetry.io/v1beta1
kind: OpenTelemetryCollector
metadata: {name: o}
spec: {mode: sidecar, config: {receivers: {}, exporters: {}, service: {pipelines: {}}}, sidecar: true}`,
		"unknown Operator config section": `apiVersion: opentelemetry.io/v1beta1
kind: OpenTelemetryCollector
metadata: {name: o}
spec: {mode: sidecar, config: {receivers: {}, exporters: {}, service: {pipelines: {}, extension: []}}}`,
		"unknown kind": `apiVersion: v1
kind: Pod
metadata: {name: p}`,
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := decodeObject([]byte(doc))
			if err == nil {
				t.Fatalf("decoded without error:\n%s", doc)
			}
			t.Log(err)
		})
	}
}
