package e2e_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/pylon-gateway/pylon/internal/testutil"
)

// TestTLSTerminationSNIAndHTTP2 serves two certificates chosen by SNI, negotiates h2 by ALPN,
// and originates verified TLS (HTTP/2) to the upstream.
func TestTLSTerminationSNIAndHTTP2(t *testing.T) {
	ca := testutil.NewCA(t)
	_, aCert, aKey := ca.Issue(t, "a.example.com")
	_, bCert, bKey := ca.Issue(t, "b.example.com")
	upCert, _, _ := ca.Issue(t, "upstream.internal")
	up := testutil.StartTLSUpstream(t, "secure", nil, upCert)

	gw := testutil.StartGateway(t, fmt.Sprintf(`
listeners:
  - name: tls
    address: 127.0.0.1:0
    tls:
      certificates:
        - {cert: %q, key: %q}
        - {cert: %q, key: %q}
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            cluster: secure
clusters:
  - name: secure
    endpoints: [%s]
    http2: true
    tls: {sni: upstream.internal, ca_file: %q}
`, aCert, aKey, bCert, bKey, up.Addr(), ca.File))
	addr := strings.TrimPrefix(gw.URL("tls"), "http://")

	for _, name := range []string{"a.example.com", "b.example.com"} {
		t.Run(name, func(t *testing.T) {
			tr := &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: ca.Pool, ServerName: name},
				ForceAttemptHTTP2: true,
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, addr)
				},
			}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get("https://" + name + "/x")
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			defer resp.Body.Close()
			if resp.ProtoMajor != 2 {
				t.Errorf("downstream protocol %s, want HTTP/2 by ALPN", resp.Proto)
			}
			if got := resp.TLS.PeerCertificates[0].Subject.CommonName; got != name {
				t.Errorf("served certificate %q, want %q", got, name)
			}
			var echo map[string]any
			json.NewDecoder(resp.Body).Decode(&echo)
			if echo["proto"] != "HTTP/2.0" {
				t.Errorf("upstream protocol %v, want HTTP/2.0", echo["proto"])
			}
			if up.Last().Header.Get("X-Forwarded-Proto") != "https" {
				t.Errorf("x-forwarded-proto %q", up.Last().Header.Get("X-Forwarded-Proto"))
			}
		})
	}
}

// TestUpstreamTLSVerifiesByDefault: an upstream certificate not signed by a trusted CA is a
// connect failure, not a silent success.
func TestUpstreamTLSVerifiesByDefault(t *testing.T) {
	ca := testutil.NewCA(t)
	other := testutil.NewCA(t)
	upCert, _, _ := other.Issue(t, "upstream.internal")
	up := testutil.StartTLSUpstream(t, "secure", nil, upCert)
	gw := testutil.StartGateway(t, fmt.Sprintf(`
listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            cluster: secure
clusters:
  - name: secure
    endpoints: [%s]
    tls: {sni: upstream.internal, ca_file: %q}
`, up.Addr(), ca.File))
	resp, body := get(t, gw.URL("public")+"/")
	if resp.StatusCode != 503 || !strings.Contains(body, "TLS error") {
		t.Fatalf("status %d body %q, want 503 with a TLS error", resp.StatusCode, body)
	}
	if up.Count() != 0 {
		t.Fatalf("the untrusted upstream received %d requests", up.Count())
	}
}

// TestH2CPriorKnowledge speaks cleartext HTTP/2 to the listener and to the upstream.
func TestH2CPriorKnowledge(t *testing.T) {
	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	upSrv := testutil.StartH2CUpstream(t, "h2c", nil)
	gw := testutil.StartGateway(t, fmt.Sprintf(`
listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            cluster: h2c
clusters:
  - name: h2c
    http2: true
    endpoints: [%s]
`, upSrv.Addr()))
	tr := &http.Transport{Protocols: h2c}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(gw.URL("public") + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var echo map[string]any
	json.NewDecoder(resp.Body).Decode(&echo)
	if resp.ProtoMajor != 2 || echo["proto"] != "HTTP/2.0" {
		t.Fatalf("downstream %s, upstream %v: want HTTP/2 on both sides", resp.Proto, echo["proto"])
	}
}

func TestWebSocketPassThrough(t *testing.T) {
	upgrader := websocket.Upgrader{}
	up := testutil.StartUpstream(t, "ws", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(mt, append([]byte("echo: "), msg...))
		}
	}))
	gw := testutil.StartGateway(t, fmt.Sprintf(`
listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            cluster: ws
            timeout: 0s
clusters:
  - name: ws
    endpoints: [%s]
`, up.Addr()))
	url := "ws://" + strings.TrimPrefix(gw.URL("public"), "http://") + "/socket"
	c, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for i := 0; i < 3; i++ {
		msg := fmt.Sprintf("hello %d", i)
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "echo: "+msg {
			t.Fatalf("got %q", got)
		}
	}
}

func TestLargeBodiesBothWays(t *testing.T) {
	up := testutil.StartUpstream(t, "big", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Received", fmt.Sprint(n))
		io.CopyN(w, zeros{}, 8<<20)
	}))
	gw := testutil.StartGateway(t, testutil.ProxyConfig("big", up.Addr()))
	resp, err := http.Post(gw.URL("public")+"/up", "application/octet-stream", io.LimitReader(zeros{}, 16<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != 8<<20 || resp.Header.Get("X-Received") != fmt.Sprint(16<<20) {
		t.Fatalf("got %d bytes (err %v), upstream received %s", n, err, resp.Header.Get("X-Received"))
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
