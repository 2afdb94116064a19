package fault

import "net/http"

// Drop closes the client's connection without writing an answer, as a
// crashed server or a cut network would. A ResponseWriter that cannot be
// hijacked (HTTP/2) gets net/http's own abort, which resets the stream.
func Drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
