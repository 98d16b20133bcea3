// Package istiorelease maps the istio/proxy build SHA that Envoy reports (first
// field of telemetry.sdk.version and of its OTLP User-Agent) to the Istio release
// that ships it.
package istiorelease // import "github.com/otelcol-mesh/otelcol-mesh/processor/meshprocessor/internal/istiorelease"

import (
	_ "embed"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// shipped is the table of every Istio release from 1.16.0 to 1.30.3 and its
// istio/proxy SHA (PROXY_REPO_SHA in istio.deps at the release tag).
//
//go:embed istio-proxy-shas.tsv
var shipped string

// minPrefix is the shortest SHA prefix accepted for a lookup.
const minPrefix = 7

// Table maps istio/proxy SHAs (full or prefixes) to the releases built from them.
type Table struct {
	// byPrefix indexes entries by their first minPrefix hex digits.
	byPrefix map[string][]entry
}

type entry struct {
	sha, release string
}

// New returns the shipped table extended with extra (SHA prefix → release).
func New(extra map[string]string) (*Table, error) {
	t := &Table{byPrefix: map[string][]entry{}}
	for i, line := range strings.Split(shipped, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		release, sha, ok := strings.Cut(line, "\t")
		if !ok || len(sha) < minPrefix {
			return nil, fmt.Errorf("istio-proxy-shas.tsv line %d: want <release>\\t<sha>", i+1)
		}
		t.add(sha, release)
	}
	for sha, release := range extra {
		if len(sha) < minPrefix {
			return nil, fmt.Errorf("SHA prefix %q shorter than %d digits", sha, minPrefix)
		}
		t.add(strings.ToLower(sha), release)
	}
	return t, nil
}

func (t *Table) add(sha, release string) {
	k := sha[:minPrefix]
	for _, e := range t.byPrefix[k] {
		if e.sha == sha && e.release == release {
			return
		}
	}
	t.byPrefix[k] = append(t.byPrefix[k], entry{sha: sha, release: release})
}

// Lookup returns the releases built from sha, lowest first. One release means
// the version is exactly known; several mean only the lowest is a lower bound.
// A SHA shorter than 7 digits, or one that matches nothing, gives nil.
func (t *Table) Lookup(sha string) []string {
	if len(sha) < minPrefix {
		return nil
	}
	var out []string
	for _, e := range t.byPrefix[strings.ToLower(sha[:minPrefix])] {
		// Either may be the prefix of the other: configs hold prefixes, Envoy
		// reports the full SHA, and a user may paste a short one.
		if (strings.HasPrefix(sha, e.sha) || strings.HasPrefix(e.sha, sha)) && !slices.Contains(out, e.release) {
			out = append(out, e.release)
		}
	}
	sort.Slice(out, func(i, j int) bool { return Less(out[i], out[j]) })
	return out
}

// Less orders releases like 1.9.0 < 1.10.0 < 1.10.1 (numeric fields
// compared as numbers, others as strings). It does not allocate: it runs for
// every span that carries a version hint.
func Less(a, b string) bool {
	for a != "" && b != "" {
		var af, bf string
		af, a, _ = strings.Cut(a, ".")
		bf, b, _ = strings.Cut(b, ".")
		if af == bf {
			continue
		}
		ai, aerr := strconv.Atoi(af)
		bi, berr := strconv.Atoi(bf)
		if aerr != nil || berr != nil {
			return af < bf
		}
		return ai < bi
	}
	return a == "" && b != ""
}
