package akamai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

const describedBy = "https://techdocs.akamai.com/purge-cache/reference/api-errors"

// ccuError is Fast Purge's own error body.
func ccuError(status int, title, detail string) reply {
	return reply{
		status: status, title: title, contentType: "application/api-problem+json",
		body: map[string]any{
			"supportId":   supportID(),
			"title":       title,
			"httpStatus":  status,
			"detail":      detail,
			"describedBy": describedBy,
		},
	}
}

var supportSeq atomic.Int64

// supportID imitates Akamai's "17PY…" reference; uniqueness is enough here.
func supportID() string {
	seq := supportSeq.Add(1)
	return fmt.Sprintf("17PY%013d-%09d", 1552425241133+seq, 211776704+seq)
}

// parseCall reads the route and, as far as it parses, the body.
func parseCall(r *http.Request, body []byte) Call {
	path, _, _ := strings.Cut(r.RequestURI, "?")
	if !strings.HasPrefix(path, "/") {
		path = r.URL.EscapedPath()
	}
	c := Call{Method: r.Method, Path: path, Header: r.Header.Clone(), Body: body}
	parts := strings.Split(strings.TrimPrefix(path, "/ccu/v3/"), "/")
	if strings.HasPrefix(path, "/ccu/v3/") && (len(parts) == 2 || len(parts) == 3) {
		c.Action, c.Type, c.Network = parts[0], parts[1], "production"
		if len(parts) == 3 {
			c.Network = parts[2]
		}
	}
	if objs, err := decodeObjects(body); err == nil {
		for _, o := range objs {
			var s string
			if json.Unmarshal(o, &s) != nil {
				s = string(o)
			}
			c.Objects = append(c.Objects, s)
		}
	}
	return c
}

func decodeObjects(body []byte) ([]json.RawMessage, error) {
	var b struct {
		Objects  []json.RawMessage `json:"objects"`
		Hostname *string           `json:"hostname"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&b); err != nil {
		return nil, err
	}
	if b.Hostname != nil {
		// The hostname-plus-paths form is not confirmed for v3; imgpurge
		// sends full URLs, and this emulator holds it to that.
		return nil, fmt.Errorf(`the "hostname" form is not supported; send full URLs`)
	}
	if b.Objects == nil {
		return nil, fmt.Errorf(`the body has no "objects" array`)
	}
	return b.Objects, nil
}

var (
	actions  = map[string]bool{"invalidate": true, "delete": true}
	types    = map[string]bool{"url": true, "tag": true, "cpcode": true}
	networks = map[string]bool{"production": true, "staging": true}
)

// handle answers a request that no fault intercepted, checking in the order
// the real API's layers would: authentication, route, method, size, media
// type, body, rate limits.
func (e *Emulator) handle(r *http.Request, c *Call) reply {
	if rep, ok := e.authenticate(r, c.Body); !ok {
		return rep
	}
	if !actions[c.Action] || !types[c.Type] || !networks[c.Network] {
		return ccuError(http.StatusNotFound, "Not Found", "no such resource: "+c.Path)
	}
	if r.Method != http.MethodPost {
		return ccuError(http.StatusMethodNotAllowed, "Method Not Allowed", r.Method+" is not supported")
	}
	if r.ContentLength < 0 {
		return ccuError(http.StatusLengthRequired, "Length Required", "Content-Length is required")
	}
	if len(c.Body) > e.opts.MaxRequestBytes {
		return ccuError(http.StatusRequestEntityTooLarge, "Request Entity Too Large", fmt.Sprintf(
			"the body is %d bytes; the limit is %d bytes", len(c.Body), e.opts.MaxRequestBytes))
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return ccuError(http.StatusUnsupportedMediaType, "Unsupported Media Type", "send application/json")
	}
	objs, err := decodeObjects(c.Body)
	if err != nil {
		return ccuError(http.StatusBadRequest, "Bad request", "invalid purge request: "+err.Error())
	}
	if rep, ok := checkObjects(c.Type, objs); !ok {
		return rep
	}
	return e.purge(c)
}

// checkObjects holds every object to the route's type: one type per request.
func checkObjects(typ string, objs []json.RawMessage) (reply, bool) {
	if len(objs) == 0 {
		return ccuError(http.StatusBadRequest, "Bad request", "objects must not be empty"), false
	}
	for _, o := range objs {
		if why := checkObject(typ, o); why != "" {
			return ccuError(http.StatusBadRequest, "Bad request",
				fmt.Sprintf("invalid %s object %s: %s", typ, o, why)), false
		}
	}
	return reply{}, true
}

func checkObject(typ string, raw json.RawMessage) string {
	if typ == "cpcode" {
		if _, err := strconv.ParseUint(string(raw), 10, 32); err != nil {
			return "a CP code is a positive integer"
		}
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "not a string"
	}
	if typ == "tag" {
		return checkTag(s)
	}
	return checkURL(s)
}

func checkTag(s string) string {
	if s == "" || len(s) > 128 {
		return "a tag has 1 to 128 characters"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && !strings.ContainsRune("!#$%'+./^_`|~-", rune(c)) {
			return fmt.Sprintf("%q is not allowed in a tag", c)
		}
	}
	return ""
}

func checkURL(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return "spaces, control and non-ASCII bytes must be percent-encoded"
		}
	}
	if strings.Contains(s, "*") {
		return "wildcards are not supported"
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "a full URL with scheme and host is required"
	}
	return ""
}

// purge spends the tokens and applies the purge to the cache.
func (e *Emulator) purge(c *Call) reply {
	e.mu.Lock()
	defer e.mu.Unlock()
	h, limited := e.take(c.Type, len(c.Objects))
	if limited != nil {
		return *limited
	}
	cache := e.cache[c.Network]
	for _, o := range c.Objects {
		switch c.Type {
		case "url":
			if obj := cache[objectKey(o)]; obj != nil {
				e.evict(cache, objectKey(o), obj, c.Action)
			}
		case "tag":
			for k, obj := range cache {
				if slices.Contains(obj.tags, o) {
					e.evict(cache, k, obj, c.Action)
				}
			}
		}
	}
	e.ids++
	id := fmt.Sprintf("edcp-%08X%04d", 0x5A3C0000+e.ids, e.ids)
	return reply{status: http.StatusCreated, header: h, body: map[string]any{
		"httpStatus": 201, "detail": "Request accepted", "estimatedSeconds": 5,
		"purgeId": id, "supportId": id,
	}}
}

func (e *Emulator) evict(cache map[string]*object, key string, o *object, action string) {
	if action == "invalidate" {
		o.stale = true
		return
	}
	delete(cache, key)
}
