package normalize

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestRedactURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// Userinfo, whether or not the URL parses.
		{"parsed", "http://admin:hunter2@backend:8080/api?id=7", "http://REDACTED:REDACTED@backend:8080/api?id=7"},
		{"no host", "http://admin:hunter2@/orders", "http://REDACTED:REDACTED@/orders"},
		{"no host, port only", "https://admin:hunter2@:8443", "https://REDACTED:REDACTED@:8443"},
		{"user only", "https://ghp_token1234@github.com/o/r.git", "https://REDACTED:REDACTED@github.com/o/r.git"},
		{"scheme-relative", "//admin:hunter2@cdn.example.com/x", "//REDACTED:REDACTED@cdn.example.com/x"},
		{"no scheme", "admin:hunter2@backend:8080/api", "REDACTED:REDACTED@backend:8080/api"},
		{"slash in password", "http://admin:pa/ss@backend/api", "http://REDACTED:REDACTED@backend/api"},
		{"hash in password", "http://admin:pa#ss@backend/api", "http://REDACTED:REDACTED@backend/api"},
		{"at in password", "http://admin:p@ss@backend/api", "http://REDACTED:REDACTED@backend/api"},
		{"bad scheme", "ht tp://admin:hunter2@backend/api", "ht tp://REDACTED:REDACTED@backend/api"},
		{"space in host", "http://admin:hunter2@back end/api", "http://REDACTED:REDACTED@back end/api"},
		// Query and fragment secrets, case-insensitive, percent-encoded names.
		{"token", "http://api/v1?token=abc123&page=2", "http://api/v1?token=REDACTED&page=2"},
		{"sig", "/blob/x?sv=2021&sig=c2lnbmF0dXJl%3D&se=2030", "/blob/x?sv=2021&sig=REDACTED&se=2030"},
		{"aws sigv4", "https://b.s3.amazonaws.com/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260101&X-Amz-Signature=deadbeef",
			"https://b.s3.amazonaws.com/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED"},
		{"aws sigv2", "https://b.s3.amazonaws.com/o?AWSAccessKeyId=AKIAEXAMPLE&Expires=1&Signature=abc", "https://b.s3.amazonaws.com/o?AWSAccessKeyId=REDACTED&Expires=1&Signature=REDACTED"},
		{"gcs", "https://storage.googleapis.com/b/o?X-Goog-Signature=abcd&x-goog-date=1", "https://storage.googleapis.com/b/o?X-Goog-Signature=REDACTED&x-goog-date=1"},
		{"upper case", "/p?TOKEN=a&Access_Token=b&API_KEY=c&ApiKey=d&Password=e", "/p?TOKEN=REDACTED&Access_Token=REDACTED&API_KEY=REDACTED&ApiKey=REDACTED&Password=REDACTED"},
		{"encoded name", "/p?access%5Ftoken=a&x=1", "/p?access%5Ftoken=REDACTED&x=1"},
		{"fragment", "https://app/cb#access_token=abc&state=xyz", "https://app/cb#access_token=REDACTED&state=xyz"},
		{"query and fragment", "https://app/cb?code=1&sig=2#id_token=3", "https://app/cb?code=1&sig=REDACTED#id_token=REDACTED"},
		{"both", "http://u:p@h/x?token=t", "http://REDACTED:REDACTED@h/x?token=REDACTED"},
		{"query in unparseable", "http:///nohost?token=abc", "http:///nohost?token=REDACTED"},
		// Left alone.
		{"plain", "http://ratings:9080/ratings/0", "http://ratings:9080/ratings/0"},
		{"ipv6", "http://[fd00::1]:8080/p?a=1", "http://[fd00::1]:8080/p?a=1"},
		{"at in path", "http://h:80/users/@me", "http://h:80/users/@me"},
		{"at in origin form", "/users/a:b@c", "/users/a:b@c"},
		{"not secret", "/p?tokens=1&signed=2&key=3&mytoken=4", "/p?tokens=1&signed=2&key=3&mytoken=4"},
		{"empty value", "/p?token=&sig", "/p?token=&sig"},
		{"linkerd redacted", "http://REDACTED@authors:7001/a?x=1", "http://REDACTED@authors:7001/a?x=1"},
		{"redacted", "http://REDACTED:REDACTED@h/x?token=REDACTED", "http://REDACTED:REDACTED@h/x?token=REDACTED"},
		{"user, no password, no scheme", "bob@example.com/x", "bob@example.com/x"},
		{"url in query", "/go?to=http://a:b@c", "/go?to=http://a:b@c"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := redactURL(tt.in)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want != tt.in, changed, "changed")
			again, changed := redactURL(got)
			assert.Equal(t, got, again, "second pass")
			assert.False(t, changed, "second pass changed")
		})
	}
}

func TestRedactParams(t *testing.T) {
	for in, want := range map[string]string{
		"token=abc":                    "token=REDACTED",
		"a=1&SIG=x&b=2":                "a=1&SIG=REDACTED&b=2",
		"a=1&b=2":                      "a=1&b=2",
		"apikey=k&api_key=k&api-key=k": "apikey=REDACTED&api_key=REDACTED&api-key=REDACTED",
		"x-amz-security-token=s&a":     "x-amz-security-token=REDACTED&a",
		"client_secret=s&refresh_token=r&passwd=p&secret=s": "client_secret=REDACTED&refresh_token=REDACTED&passwd=REDACTED&secret=REDACTED",
		"&&token=a&&":                        "&&token=REDACTED&&",
		"=token&token==x":                    "=token&token=REDACTED",
		strings.Repeat("a", 40) + "=1&sig=2": strings.Repeat("a", 40) + "=1&sig=REDACTED",
	} {
		got, changed := redactParams(in)
		assert.Equal(t, want, got, in)
		assert.Equal(t, want != in, changed, in)
	}
}

// TestProxySpanURLRedaction: URL tags of Envoy and Linkerd spans lose their
// credentials and query secrets, also when the URL does not parse (then no
// url.* keys are written and the input is counted as malformed).
func TestProxySpanURLRedaction(t *testing.T) {
	tests := []struct {
		name      string
		linkerd   bool
		key, url  string
		wantURL   string
		wantQuery string // url.query written; "" when none
	}{
		{"envoy unparseable userinfo", false, "http.url", "http://admin:hunter2@/orders", "http://REDACTED:REDACTED@/orders", ""},
		{"envoy schemeless userinfo", false, "http.url", "admin:hunter2@backend:8080/orders", "REDACTED:REDACTED@backend:8080/orders", ""},
		{"envoy signed url", false, "http.url", "https://b.s3.amazonaws.com/o?X-Amz-Credential=AKIA&X-Amz-Signature=f00&n=1",
			"https://b.s3.amazonaws.com/o?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&n=1", "X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&n=1"},
		{"envoy url.full token", false, "url.full", "http://api:80/v1?token=s3cr3t", "http://api:80/v1?token=REDACTED", "token=REDACTED"},
		{"linkerd url.full sig", true, "url.full", "http://authors:7001/a?sig=s3cr3t&AWSAccessKeyId=AKIA", "http://authors:7001/a?sig=REDACTED&AWSAccessKeyId=REDACTED", "sig=REDACTED&AWSAccessKeyId=REDACTED"},
		{"linkerd http.path", true, "http.path", "/authors?access_token=s3cr3t", "/authors?access_token=REDACTED", "access_token=REDACTED"},
		{"linkerd unparseable", true, "url.full", "http://user:pw@:7001", "http://REDACTED:REDACTED@:7001", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td := ptrace.NewTraces()
			rs := td.ResourceSpans().AppendEmpty()
			span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			span.SetKind(ptrace.SpanKindClient)
			attrs := span.Attributes()
			if tt.linkerd {
				rs.Resource().Attributes().PutStr("service.name", "linkerd-proxy")
				attrs.PutStr("direction", "outbound")
				attrs.PutStr("http.authority", "authors:7001")
				attrs.PutStr("http.method", "GET")
			} else {
				attrs.PutStr("node_id", "sidecar~10.0.0.1~web-1.default~default.svc.cluster.local")
				attrs.PutStr("http.method", "GET")
			}
			attrs.PutStr(tt.key, tt.url)

			out := process(t, goldenSettings(t), td)
			got := out.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes()
			v, _ := got.Get(tt.key)
			assert.Equal(t, tt.wantURL, v.Str(), tt.key)
			if q, ok := got.Get("url.query"); tt.wantQuery == "" {
				assert.False(t, ok, "url.query written for a URL that does not parse")
			} else {
				assert.Equal(t, tt.wantQuery, q.Str(), "url.query")
			}
			if full, ok := got.Get("url.full"); ok {
				assert.NotContains(t, full.Str(), "s3cr3t")
				assert.NotContains(t, full.Str(), "hunter2")
			}
			assertNoSecret(t, out)
		})
	}
}

// TestApplicationSpanRedaction: with redact_application_spans (the default)
// application spans lose captured credential headers and URL secrets like
// proxy spans; switched off they pass untouched.
func TestApplicationSpanRedaction(t *testing.T) {
	build := func() ptrace.Traces {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "checkout")
		span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		span.SetName("GET /cart")
		span.SetKind(ptrace.SpanKindServer)
		a := span.Attributes()
		a.PutStr("http.request.method", "GET")
		a.PutEmptySlice("http.request.header.authorization").AppendEmpty().SetStr("Bearer s3cr3t")
		a.PutEmptySlice("http.request.header.cookie").AppendEmpty().SetStr("session=s3cr3t")
		a.PutStr("Authorization", "Basic s3cr3t")
		a.PutStr("url.full", "https://user:s3cr3t@shop.example.com/cart?token=s3cr3t&item=7")
		a.PutStr("url.query", "item=7&X-Goog-Signature=s3cr3t")
		a.PutStr("url.fragment", "access_token=s3cr3t")
		a.PutStr("http.url", "http://user:s3cr3t@/cart") // unparseable
		a.PutStr("http.target", "/cart?api_key=s3cr3t")
		a.PutStr("http.path", "/cart?password=s3cr3t")
		a.PutStr("x-canary", "always")
		a.PutStr("app.note", "token=visible") // not a URL key: left alone
		return td
	}
	want := map[string]any{
		"http.request.method":               "GET",
		"http.request.header.authorization": []any{"REDACTED"},
		"http.request.header.cookie":        []any{"REDACTED"},
		"Authorization":                     "REDACTED",
		"url.full":                          "https://REDACTED:REDACTED@shop.example.com/cart?token=REDACTED&item=7",
		"url.query":                         "item=7&X-Goog-Signature=REDACTED",
		"url.fragment":                      "access_token=REDACTED",
		"http.url":                          "http://REDACTED:REDACTED@/cart",
		"http.target":                       "/cart?api_key=REDACTED",
		"http.path":                         "/cart?password=REDACTED",
		"x-canary":                          "always",
		"app.note":                          "token=visible",
		"mesh.canary":                       true, // the canary header still matches
	}

	cfg := goldenSettings(t)
	require.True(t, cfg.RedactApplicationSpans, "on by default")
	out := process(t, cfg, build())
	span := out.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	assert.Equal(t, want, span.Attributes().AsRaw())
	assert.Equal(t, "GET /cart", span.Name(), "application spans keep their name")
	assertNoSecret(t, out)

	// Idempotent: a second mesh processor (sidecar, then gateway) changes nothing.
	again := ptrace.NewTraces()
	out.CopyTo(again)
	twice := process(t, cfg, again)
	assert.Equal(t, want, twice.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().AsRaw())

	cfg.RedactApplicationSpans = false
	in := build()
	wantRaw := in.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().AsRaw()
	wantRaw["mesh.canary"] = true
	off := process(t, cfg, in)
	assert.Equal(t, wantRaw, off.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().AsRaw())
}

// assertNoSecret fails when a test secret survived anywhere in the output.
func assertNoSecret(t *testing.T, td ptrace.Traces) {
	t.Helper()
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	for _, secret := range []string{"s3cr3t", "hunter2", "AKIA", "f00"} {
		assert.NotContains(t, string(b), secret)
	}
}

// BenchmarkRedactURL: the common case, a URL without credentials, must not
// allocate.
func BenchmarkRedactURL(b *testing.B) {
	for _, u := range []string{"http://reviews.bookinfo.svc.cluster.local:9080/reviews/0?page=1&size=20", "/api/v1/items"} {
		b.Run(u[:4], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, changed := redactURL(u); changed {
					b.Fatal("changed")
				}
			}
		})
	}
}

// FuzzRedactURL: redaction never panics, is idempotent, and leaves no
// password of an absolute URL's userinfo behind.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"http://u:p@h/x?token=t#sig=s", "//u:p@h", "u:p@h/x", "/x?a=1&sig=2", "http://[::1]:80/a@b", "http://u:p/q@h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once, _ := redactURL(s)
		if twice, changed := redactURL(once); changed || twice != once {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, once, twice)
		}
		if i := strings.Index(once, "://"); i > 0 && !strings.ContainsAny(once[:i], "/?#@") {
			authority := once[i+3:]
			authority = authority[:indexAnyOrLen(authority, "/?#")]
			if at := strings.LastIndexByte(authority, '@'); at >= 0 {
				if u := authority[:at]; u != redactedUserinfo && u != redactedValue {
					t.Fatalf("userinfo %q left in %q (from %q)", u, once, s)
				}
			}
		}
	})
}
