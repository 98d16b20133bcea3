package semconv

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMethod(t *testing.T) {
	m, ok := Method("GET")
	assert.Equal(t, "GET", m)
	assert.True(t, ok)
	m, ok = Method("get")
	assert.Equal(t, OtherMethod, m)
	assert.False(t, ok)
	m, ok = Method("PURGE")
	assert.Equal(t, OtherMethod, m)
	assert.False(t, ok)
}

func TestStatusCode(t *testing.T) {
	for in, want := range map[string]int64{"200": 200, "503": 503, "404": 404, "100": 100} {
		got, ok := StatusCode(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"0", "", "-", "20", "2000", "600", "abc", "099"} {
		_, ok := StatusCode(bad)
		assert.False(t, ok, bad)
	}
}

func TestProtocol(t *testing.T) {
	for in, want := range map[string][2]string{"HTTP/1.0": {"http", "1.0"}, "HTTP/1.1": {"http", "1.1"}, "HTTP/2": {"http", "2"}, "HTTP/3": {"http", "3"}, "HTTP/2.0": {"http", "2"}} {
		n, v, ok := Protocol(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, [2]string{n, v}, in)
	}
	for _, bad := range []string{"", "-", "HTTP", "SPDY/3", "HTTP/9"} {
		_, _, ok := Protocol(bad)
		assert.False(t, ok, bad)
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string][2]string{
		"10.0.0.1:9080":    {"10.0.0.1", "9080"},
		"10.0.0.1":         {"10.0.0.1", ""},
		"[fd00::1]:443":    {"fd00::1", "443"},
		"[fd00::1]":        {"fd00::1", ""},
		"fd00::1":          {"fd00::1", ""},
		"example.com:8080": {"example.com", "8080"},
		"example.com":      {"example.com", ""},
	} {
		h, p := HostPort(in)
		assert.Equal(t, want, [2]string{h, p}, in)
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in   string
		want URL
	}{
		{"http://ratings:9080/ratings/0", URL{Scheme: "http", Host: "ratings", Port: "9080", Path: "/ratings/0", Redacted: "http://ratings:9080/ratings/0"}},
		{"http://example.com:80/foo?bar=baz", URL{Scheme: "http", Host: "example.com", Port: "80", Path: "/foo", Query: "bar=baz", Redacted: "http://example.com:80/foo?bar=baz"}},
		{"https://user:secret@api.example.com/v1?x=1#frag", URL{Scheme: "https", Host: "api.example.com", Path: "/v1", Query: "x=1", Redacted: "https://REDACTED:REDACTED@api.example.com/v1?x=1#frag"}},
		{"http://[fd00::1]:8080", URL{Scheme: "http", Host: "fd00::1", Port: "8080", Redacted: "http://[fd00::1]:8080"}},
		{"/api/list?limit=5", URL{Path: "/api/list", Query: "limit=5", Redacted: "/api/list?limit=5"}},
		{"/", URL{Path: "/", Redacted: "/"}},
		{"http://REDACTED@h:1/p", URL{Scheme: "http", Host: "h", Port: "1", Path: "/p", Redacted: "http://REDACTED@h:1/p"}},
	}
	for _, tt := range tests {
		got, ok := ParseURL(tt.in)
		assert.True(t, ok, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	for _, bad := range []string{"", "ratings:9080", "http:///path", "-"} {
		_, ok := ParseURL(bad)
		assert.False(t, ok, bad)
	}
}

func TestRouteFromOperation(t *testing.T) {
	tests := map[string]string{
		"productpage.bookinfo.svc.cluster.local:9080/productpage": "/productpage",
		"reviews.bookinfo.svc.cluster.local:9080/*":               "",
		"bookinfo-vs:80/api/v1/products*":                         "/api/v1/products*",
		"ingress":                                                 "",
		"egress reviews:9080":                                     "",
		"reviews:9080":                                            "",
		"/api/list":                                               "",
		"router outbound|9080||productpage.bookinfo.svc.cluster.local; egress": "",
		"GET /checkout": "",
	}
	for in, want := range tests {
		got, ok := RouteFromOperation(in)
		assert.Equal(t, want, got, in)
		assert.Equal(t, want != "", ok, in)
	}
}

func TestGRPCCode(t *testing.T) {
	c, n, ok := GRPCCode("14")
	assert.True(t, ok)
	assert.Equal(t, 14, c)
	assert.Equal(t, "UNAVAILABLE", n)
	assert.True(t, GRPCServerError(c))
	assert.False(t, GRPCServerError(5))
	_, _, ok = GRPCCode("17")
	assert.False(t, ok)
	_, _, ok = GRPCCode("-")
	assert.False(t, ok)
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"http://ratings:9080/ratings/0", "https://u:p@h/x?y#z", "/a?b", "http://[::1", "http://@/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, ok := ParseURL(s)
		if !ok {
			return
		}
		if u.Scheme != "" && u.Host == "" {
			t.Fatalf("absolute URL without host from %q", s)
		}
	})
}
