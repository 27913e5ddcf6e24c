//go:build !go1.27

package h1

import "net/http"

// h2BaseConfig is the BaseConfig passed to http2.Server.ServeConn. Before Go 1.27 x/net/http2
// runs its own server, which registers every connection with the http2.Server configured by
// ConfigureServer whatever BaseConfig is: passing base gives HTTP/2 handlers the same
// MaxHeaderBytes and ServerContextKey as HTTP/1 ones.
func h2BaseConfig(base *http.Server) *http.Server { return base }
