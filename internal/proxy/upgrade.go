package proxy

import (
	"io"
	"net/http"
	"sync"

	"github.com/pylon-gateway/pylon/internal/router"
	"github.com/pylon-gateway/pylon/internal/stream"
)

// upgradeResponse completes a protocol upgrade (WebSocket): the upstream answered 101, so the
// downstream connection is taken over and bytes are copied both ways until either side closes.
func (l *Listener) upgradeResponse(w http.ResponseWriter, r *http.Request, info *stream.Info, rt *router.Route, resp *http.Response) {
	up, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		info.Flags = "UPE"
		l.localReply(w, http.StatusBadGateway, "upstream switched protocols without a usable connection")
		return
	}
	defer up.Close()
	rc := http.NewResponseController(w)
	conn, brw, err := rc.Hijack()
	if err != nil {
		info.Flags = "DPE"
		l.localReply(w, http.StatusInternalServerError, "protocol upgrade not supported on this connection")
		return
	}
	defer conn.Close()
	info.Upgraded = true // the status is not seen by any writer: the connection is ours now
	h := resp.Header.Clone()
	h["Server"] = l.serverHeader
	rt.ApplyResponseHeaders(h)
	resp.Header = h
	resp.Body = nil
	if err := resp.Write(brw); err != nil {
		return
	}
	if err := brw.Flush(); err != nil {
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Bytes the client sent after the upgrade request may sit in the server's reader.
		io.Copy(up, brw.Reader)
		if cw, ok := up.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			up.Close()
		}
	}()
	io.Copy(conn, up)
	conn.Close()
	wg.Wait()
}
