package meshprocessor // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor"

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/normalize"
	"github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/sampling"
)

// Config configures the mesh processor.
type Config struct {
	// RemoveOriginalAttributes deletes the proxy's own tags (node_id,
	// upstream_cluster, http.*, istio.* …) once they are mapped to semantic
	// conventions. Off by default: Kiali reads those tags from stored traces.
	RemoveOriginalAttributes bool `mapstructure:"remove_original_attributes"`

	// Naming chooses the names Envoy and Istio proxy resources and spans get.
	//   - "kiali" (default): the proxy's service.name ("reviews.bookinfo") and
	//     span name ("reviews.bookinfo.svc.cluster.local:9080/*") stay, as Kiali
	//     looks traces up by them; the workload identity goes into
	//     service.namespace, service.version, k8s.* and mesh.*, and the route
	//     into http.route.
	//   - "semconv": service.name becomes the canonical service ("reviews"; the
	//     old one is kept in mesh.service.name.original) and span names become
	//     "{method} {route}" or "{method}" (the old one is kept in
	//     mesh.span.original_name). Kiali then finds traces only with
	//     external_services.tracing.namespace_selector: false.
	// Either way, placeholder service names that Kiali never reads
	// (unknown_service:envoy, linkerd-proxy) are replaced and Linkerd's
	// raw-path span names become "{method}".
	Naming string `mapstructure:"naming"`

	// RedactedHeaders lists captured header names (lower case) whose span
	// attribute values are replaced by "REDACTED". Matches Envoy custom tags named
	// after the header and http.request.header.<name> / http.response.header.<name>.
	RedactedHeaders []string `mapstructure:"redacted_headers"`

	// RedactApplicationSpans applies the redaction of proxy spans to
	// application (SDK) spans too: redacted_headers, and in url.full,
	// http.url, http.target, http.path, url.query and url.fragment the
	// userinfo (user:password@ becomes REDACTED:REDACTED) and the values of
	// secret query parameters (token, sig, X-Amz-Signature, AWSAccessKeyId …
	// see the README). On by default; false leaves application spans as
	// their SDK sent them.
	RedactApplicationSpans bool `mapstructure:"redact_application_spans"`

	// IstioProxySHAs extends the built-in table that maps an istio/proxy build
	// SHA (a hex prefix of at least 7 digits, as found in telemetry.sdk.version)
	// to the Istio release that ships it, e.g. "4382ac5fc1d3": "1.25.0".
	IstioProxySHAs map[string]string `mapstructure:"istio_proxy_shas"`

	// Canary holds the rules that mark a span as canary traffic (mesh.canary).
	Canary normalize.CanaryConfig `mapstructure:"canary"`

	// Sampling configures mesh tail sampling (gateway mode; off by default).
	Sampling sampling.Config `mapstructure:"sampling"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Naming values.
const (
	namingKiali   = "kiali"
	namingSemconv = "semconv"
)

var (
	shaPattern     = regexp.MustCompile(`^[0-9a-f]{7,40}$`)
	releasePattern = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
)

// Validate checks the configuration; every error names the YAML key at fault.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.Naming != namingKiali && cfg.Naming != namingSemconv {
		errs = append(errs, fmt.Errorf("naming: %q must be %q (keep the proxy's service and span names, as Kiali reads them) or %q", cfg.Naming, namingKiali, namingSemconv))
	}
	for i, h := range cfg.RedactedHeaders {
		if h == "" || h != strings.ToLower(h) {
			errs = append(errs, fmt.Errorf("redacted_headers[%d]: %q must be a non-empty lower-case header name", i, h))
		}
	}
	for sha, release := range cfg.IstioProxySHAs {
		if !shaPattern.MatchString(sha) {
			errs = append(errs, fmt.Errorf("istio_proxy_shas: key %q must be 7 to 40 lower-case hex digits of an istio/proxy SHA", sha))
		}
		if !releasePattern.MatchString(release) {
			errs = append(errs, fmt.Errorf("istio_proxy_shas: value %q for %q must be an Istio release such as 1.25.0", release, sha))
		}
	}
	errs = append(errs, nonEmpty("canary.subsets", cfg.Canary.Subsets)...)
	errs = append(errs, nonEmpty("canary.host_suffixes", cfg.Canary.HostSuffixes)...)
	for k := range cfg.Canary.Headers {
		if k == "" || k != strings.ToLower(k) {
			errs = append(errs, fmt.Errorf("canary.headers: %q must be a non-empty lower-case header tag name", k))
		}
	}
	for k := range cfg.Canary.ResourceLabels {
		if k == "" {
			errs = append(errs, errors.New("canary.resource_labels: label names must not be empty"))
		}
	}
	for _, err := range cfg.Sampling.Errors() {
		errs = append(errs, fmt.Errorf("sampling.%w", err))
	}
	return errors.Join(errs...)
}

func nonEmpty(key string, values []string) []error {
	var errs []error
	for i, v := range values {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s[%d]: must not be empty", key, i))
		}
	}
	return errs
}
