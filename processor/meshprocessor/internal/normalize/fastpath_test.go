package normalize

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// parseCountReference is what parseCount must match: strconv.ParseInt,
// non-negative values only.
func parseCountReference(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

var parseCountCases = []string{
	"", "-", "0", "00", "7", "1234", "-0", "+0", "+12", "-12", "1_000", " 1", "1 ", "0x10", "1e3",
	"999999999999999999", "9223372036854775807", "9223372036854775808", "18446744073709551616",
	"000000000000000000001", "12a", "٣",
}

func TestParseCountMatchesParseInt(t *testing.T) {
	for _, s := range parseCountCases {
		n, ok := parseCount(s)
		wantN, wantOK := parseCountReference(s)
		assert.Equal(t, wantOK, ok, "%q", s)
		if wantOK {
			assert.Equal(t, wantN, n, "%q", s)
		}
	}
}

func FuzzParseCount(f *testing.F) {
	for _, s := range parseCountCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseCount(s)
		wantN, wantOK := parseCountReference(s)
		if ok != wantOK || (ok && n != wantN) {
			t.Fatalf("parseCount(%q) = %d, %v; ParseInt gives %d, %v", s, n, ok, wantN, wantOK)
		}
	})
}

// TestPutClientPeerMatchesTwoWrites checks that a CLIENT span's peer keys
// (values, types and key order) are what writing peer.address and then
// upstream_address over it gives, with and without keys already present.
func TestPutClientPeerMatchesTwoWrites(t *testing.T) {
	addrs := []string{"", "-", "10.0.0.1", "10.0.0.1:9080", "10.0.0.2:80", "[::1]:443", "[::1]", "::1",
		"host:0", "host:99999", "host:x", ":80", "[]:80", "[::1"}
	prefilled := func(m pcommon.Map) {
		m.PutStr("network.peer.address", "old")
		m.PutInt("network.peer.port", 1)
	}
	for _, pre := range []func(pcommon.Map){func(pcommon.Map) {}, prefilled} {
		for _, peer := range addrs {
			for _, upstream := range addrs {
				want := pcommon.NewMap()
				want.PutStr("before", "x")
				pre(want)
				putPeer(want, peer, false)
				if upstream != "" {
					putPeer(want, upstream, false)
				}
				got := pcommon.NewMap()
				got.PutStr("before", "x")
				pre(got)
				putClientPeer(got, peer, upstream)
				assert.Equal(t, want.AsRaw(), got.AsRaw(), "peer %q upstream %q", peer, upstream)
				assert.Equal(t, attrKeys(want), attrKeys(got), "key order, peer %q upstream %q", peer, upstream)
			}
		}
	}
}

func attrKeys(m pcommon.Map) []string {
	var ks []string
	for k := range m.All() {
		ks = append(ks, k)
	}
	return ks
}

func TestCutNamespaceMatchesCutSuffix(t *testing.T) {
	names := []string{"", ".", "productpage.default", "productpage.default.svc", "default", ".default", "a.b.default", "istio-proxy.istio-system", "x.defaul", "xdefault"}
	for _, s := range names {
		for _, ns := range []string{"", "default", "istio-system", "b.default", "t"} {
			app, found := cutNamespace(s, ns)
			wantApp, wantFound := strings.CutSuffix(s, "."+ns)
			wantFound = wantFound && ns != ""
			assert.Equal(t, wantFound, found, "%q %q", s, ns)
			if wantFound {
				assert.Equal(t, wantApp, app, "%q %q", s, ns)
			}
		}
	}
}
