//go:build go1.27

package h1

import "net/http"

// h2BaseConfig is the BaseConfig passed to http2.Server.ServeConn. From Go 1.27 x/net/http2
// wraps net/http's HTTP/2 server and, given a BaseConfig, serves the connection from a one-off
// copy of it that base.Shutdown would not reach; without one it uses the server
// ConfigureServer prepared from base (same settings, reached by Shutdown).
func h2BaseConfig(*http.Server) *http.Server { return nil }
