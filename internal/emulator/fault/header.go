package fault

import "net/http"

// AddHeader sets in h the headers a fault adds to an answer, each replacing
// h's values of that name, and returns h; a nil h is made when there is
// anything to add.
func AddHeader(h, add http.Header) http.Header {
	if len(add) == 0 {
		return h
	}
	if h == nil {
		h = http.Header{}
	}
	for k, v := range add {
		h[k] = v
	}
	return h
}
