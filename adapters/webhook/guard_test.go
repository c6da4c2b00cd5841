package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
)

// fakeResolver answers every lookup with fixed addresses.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range f[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestGuardRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	g := webhook.Guard{Resolver: fakeResolver{
		"rebind.example.com":   {"127.0.0.1"},
		"metadata.example.com": {"169.254.169.254"},
		"mixed.example.com":    {"93.184.216.34", "10.1.2.3"},
		"public.example.com":   {"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"},
	}}
	tests := map[string]string{
		"https://127.0.0.1/hook":                 "not allowed",
		"https://[::1]/hook":                     "not allowed",
		"https://10.0.0.5/hook":                  "not allowed",
		"https://172.16.1.1/hook":                "not allowed",
		"https://192.168.1.1/hook":               "not allowed",
		"https://169.254.169.254/latest":         "not allowed",
		"https://[::ffff:127.0.0.1]/hook":        "not allowed",
		"https://[::ffff:169.254.169.254]/x":     "not allowed",
		"https://100.64.0.1/hook":                "not allowed",
		"https://0.0.0.0/hook":                   "not allowed",
		"https://[fc00::1]/hook":                 "not allowed",
		"https://[fe80::1]/hook":                 "not allowed",
		"https://[64:ff9b::7f00:1]/hook":         "not allowed", // NAT64 of 127.0.0.1
		"https://[2002:7f00:1::1]/hook":          "not allowed", // 6to4 of 127.0.0.1
		"https://224.0.0.1/hook":                 "not allowed",
		"https://255.255.255.255/hook":           "not allowed",
		"https://rebind.example.com/hook":        "resolves to 127.0.0.1",
		"https://metadata.example.com/hook":      "resolves to 169.254.169.254",
		"https://mixed.example.com/hook":         "resolves to 10.1.2.3",
		"http://public.example.com/hook":         "must use https",
		"https://user:pass@public.example.com/h": "user info",
		"/relative":                              "absolute URL",
		"ftp://public.example.com/h":             "https",
		"https://public.example.com/hook":        "",
		"https://93.184.216.34/hook":             "",
	}
	for raw, want := range tests {
		t.Run(raw, func(t *testing.T) {
			t.Parallel()
			err := g.CheckURL(context.Background(), raw, true)
			if want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, want)
			require.NotContains(t, err.Error(), "pass", "credentials are never echoed")
		})
	}
	require.NoError(t, webhook.Guard{AllowPrivate: true}.CheckURL(context.Background(), "http://127.0.0.1/x", false))
	require.NoError(t, webhook.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}.CheckURL(context.Background(), "https://10.0.0.5/x", true))
	require.Error(t, webhook.Guard{}.CheckURL(context.Background(), "http://93.184.216.34/x", true))
	require.NoError(t, webhook.Guard{}.CheckURL(context.Background(), "http://93.184.216.34/x", false), "http when require_https is off")
}

// TestGuardAtDialTime: a URL that passed registration but now resolves to loopback (DNS
// rebinding) is refused when the connection is made.
func TestGuardAtDialTime(t *testing.T) {
	t.Parallel()
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit = true }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, u := range []string{srv.URL, "http://localhost" + port} {
		resp, err := webhook.Guard{}.Client().Get(u)
		if resp != nil {
			resp.Body.Close()
		}
		require.ErrorIs(t, err, webhook.ErrForbiddenAddress, u)
	}
	require.False(t, hit)
	resp, err := webhook.Guard{AllowPrivate: true}.Client().Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.True(t, hit)
}
