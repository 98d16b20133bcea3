package clustername

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Cluster
		wantErr error
	}{
		{in: "outbound|9080|v2|reviews.default.svc.cluster.local", want: Cluster{Direction: "outbound", Port: 9080, Subset: "v2", Host: "reviews.default.svc.cluster.local", Service: "reviews", Namespace: "default"}},
		{in: "outbound|9080||productpage.bookinfo.svc.cluster.local", want: Cluster{Direction: "outbound", Port: 9080, Host: "productpage.bookinfo.svc.cluster.local", Service: "productpage", Namespace: "bookinfo"}},
		{in: "outbound|9080|v3|ratings.bookinfo.svc.cluster.local;", want: Cluster{Direction: "outbound", Port: 9080, Subset: "v3", Host: "ratings.bookinfo.svc.cluster.local", Service: "ratings", Namespace: "bookinfo"}},
		{in: "inbound|9080||", want: Cluster{Direction: "inbound", Port: 9080}},
		{in: "outbound_.9080_.v2_.reviews.default.svc.cluster.local", want: Cluster{Direction: "outbound", Port: 9080, Subset: "v2", Host: "reviews.default.svc.cluster.local", Service: "reviews", Namespace: "default"}},
		{in: "inbound-vip|9080|http/v2|reviews.ns.svc.cluster.local", want: Cluster{Direction: "inbound", Port: 9080, Subset: "v2", Host: "reviews.ns.svc.cluster.local", Service: "reviews", Namespace: "ns", Waypoint: true}},
		{in: "inbound-vip|9080|http|reviews.ns.svc.cluster.local", want: Cluster{Direction: "inbound", Port: 9080, Host: "reviews.ns.svc.cluster.local", Service: "reviews", Namespace: "ns", Waypoint: true}},
		{in: "inbound-vip|5432|tcp|db.ns.svc.cluster.local", want: Cluster{Direction: "inbound", Port: 5432, Host: "db.ns.svc.cluster.local", Service: "db", Namespace: "ns", Waypoint: true}},
		{in: "outbound|443||api.example.com", want: Cluster{Direction: "outbound", Port: 443, Host: "api.example.com", Service: "api.example.com"}},
		{in: "PassthroughCluster", want: Cluster{Direction: "outbound", Special: "PassthroughCluster"}},
		{in: "BlackHoleCluster;", want: Cluster{Direction: "outbound", Special: "BlackHoleCluster"}},
		{in: "InboundPassthroughCluster", want: Cluster{Direction: "inbound", Special: "InboundPassthroughCluster"}},
		{in: "service_backend", wantErr: ErrNotIstio},
		{in: "", wantErr: ErrNotIstio},
		{in: "outbound|9080|v2", wantErr: ErrMalformed},
		{in: "outbound|port|v2|reviews", wantErr: ErrMalformed},
		{in: "outbound|70000||reviews", wantErr: ErrMalformed},
		{in: "outbound|9080||", wantErr: ErrMalformed},
		{in: "inbound-vip|9080|grpc/v2|x.ns.svc.cluster.local", wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSplitHost(t *testing.T) {
	for in, want := range map[string][2]string{
		"reviews.bookinfo.svc.cluster.local": {"reviews", "bookinfo"},
		"reviews.bookinfo.svc":               {"reviews", "bookinfo"},
		"reviews.bookinfo":                   {"reviews.bookinfo", ""},
		"reviews":                            {"reviews", ""},
		"api.example.com":                    {"api.example.com", ""},
		".ns.svc":                            {".ns.svc", ""},
	} {
		s, ns := SplitHost(in)
		assert.Equal(t, want, [2]string{s, ns}, in)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"outbound|9080|v2|reviews.default.svc.cluster.local;", "outbound_.9080_.v2_.r.d.svc", "inbound-vip|1|http/x|h", "inbound|9080||", "PassthroughCluster"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			return
		}
		if c.Direction != "inbound" && c.Direction != "outbound" {
			t.Fatalf("direction %q from %q", c.Direction, s)
		}
		if c.Port < 0 || c.Port > 65535 {
			t.Fatalf("port %d from %q", c.Port, s)
		}
	})
}
