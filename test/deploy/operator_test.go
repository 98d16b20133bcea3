package deploy

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The OpenTelemetry Operator's API module (github.com/open-telemetry/
// opentelemetry-operator) is not served by the module proxy here, so these
// types mirror the part of opentelemetry.io/v1beta1 OpenTelemetryCollector
// (apis/v1beta1: OpenTelemetryCollectorSpec, OpenTelemetryCommonFields,
// Config, Service, Pipeline, Probe) that a sidecar uses, with the Operator's
// JSON names. Strict decoding into them rejects any key the Operator does not
// have, and a few it has but a sidecar cannot use.

type otelCollector struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            otelCollectorSpec `json:"spec"`
}

type otelCollectorSpec struct {
	ManagementState               string                      `json:"managementState,omitempty"`
	Mode                          string                      `json:"mode,omitempty"`
	Image                         string                      `json:"image,omitempty"`
	ImagePullPolicy               corev1.PullPolicy           `json:"imagePullPolicy,omitempty"`
	Resources                     corev1.ResourceRequirements `json:"resources,omitempty"`
	Args                          map[string]string           `json:"args,omitempty"`
	Env                           []corev1.EnvVar             `json:"env,omitempty"`
	EnvFrom                       []corev1.EnvFromSource      `json:"envFrom,omitempty"`
	VolumeMounts                  []corev1.VolumeMount        `json:"volumeMounts,omitempty"`
	Volumes                       []corev1.Volume             `json:"volumes,omitempty"`
	Ports                         []otelPort                  `json:"ports,omitempty"`
	SecurityContext               *corev1.SecurityContext     `json:"securityContext,omitempty"`
	PodAnnotations                map[string]string           `json:"podAnnotations,omitempty"`
	ServiceAccount                string                      `json:"serviceAccount,omitempty"`
	Lifecycle                     *corev1.Lifecycle           `json:"lifecycle,omitempty"`
	TerminationGracePeriodSeconds *int64                      `json:"terminationGracePeriodSeconds,omitempty"`
	LivenessProbe                 *otelProbe                  `json:"livenessProbe,omitempty"`
	ReadinessProbe                *otelProbe                  `json:"readinessProbe,omitempty"`
	StartupProbe                  *otelProbe                  `json:"startupProbe,omitempty"`
	Config                        otelConfig                  `json:"config"`
	ConfigVersions                int                         `json:"configVersions,omitempty"`
}

type otelPort struct {
	HostPort           int32 `json:"hostPort,omitempty"`
	corev1.ServicePort `json:",inline"`
}

// otelProbe is the Operator's Probe: timing only, the handler is derived from
// the health_check extension.
type otelProbe struct {
	InitialDelaySeconds           *int32 `json:"initialDelaySeconds,omitempty"`
	TimeoutSeconds                *int32 `json:"timeoutSeconds,omitempty"`
	PeriodSeconds                 *int32 `json:"periodSeconds,omitempty"`
	SuccessThreshold              *int32 `json:"successThreshold,omitempty"`
	FailureThreshold              *int32 `json:"failureThreshold,omitempty"`
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
}

type otelConfig struct {
	Receivers  map[string]any `json:"receivers"`
	Exporters  map[string]any `json:"exporters"`
	Processors map[string]any `json:"processors,omitempty"`
	Connectors map[string]any `json:"connectors,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
	Service    otelService    `json:"service"`
}

type otelService struct {
	Extensions []string                 `json:"extensions,omitempty"`
	Telemetry  map[string]any           `json:"telemetry,omitempty"`
	Pipelines  map[string]*otelPipeline `json:"pipelines"`
}

type otelPipeline struct {
	Exporters  []string `json:"exporters"`
	Processors []string `json:"processors,omitempty"`
	Receivers  []string `json:"receivers"`
}
