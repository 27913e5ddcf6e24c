package e2e_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/pylon-gateway/pylon/internal/testutil"
)

// BenchmarkProxyRoundTrip measures one keep-alive GET through Pylon to a loopback upstream,
// client and upstream included (compare with BenchmarkDirectRoundTrip for Pylon's share).
func BenchmarkProxyRoundTrip(b *testing.B) {
	up := testutil.StartUpstream(b, "svc", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"ok":true}`))
	}))
	gw := testutil.StartGateway(b, testutil.ProxyConfig("svc", up.Addr()))
	roundTrips(b, gw.URL("public")+"/bench")
}

// BenchmarkDirectRoundTrip is the same request straight to the upstream.
func BenchmarkDirectRoundTrip(b *testing.B) {
	up := testutil.StartUpstream(b, "svc", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"ok":true}`))
	}))
	roundTrips(b, up.URL+"/bench")
}

func roundTrips(b *testing.B, url string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	req, _ := http.NewRequest("GET", url, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
