package fastly

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// handle answers a request that no fault intercepted.
func (e *Emulator) handle(r *http.Request, c *Call) reply {
	if r.Method != http.MethodPost {
		return apiError(http.StatusMethodNotAllowed, "Method not allowed", r.Method+" is not supported here")
	}
	if rep, ok := e.authorize(r.Header.Get("Fastly-Key")); !ok {
		return rep
	}
	if c.Kind == "url" {
		return e.purgeURL(c)
	}
	sid, _, ok := serviceRoute(c.Path)
	if !ok || c.Kind == "other" {
		return apiError(http.StatusNotFound, "Record not found", "")
	}
	if sid != e.opts.ServiceID {
		return apiError(http.StatusNotFound, "Record not found", fmt.Sprintf("Cannot find service '%s'", sid))
	}
	switch c.Kind {
	case "purge_all":
		return e.purgeAll(c)
	case "key":
		return e.purgeKey(c)
	default:
		return e.purgeBatch(c)
	}
}

func (e *Emulator) authorize(key string) (reply, bool) {
	switch key {
	case e.opts.APIKey:
		return reply{}, true
	case "":
		// go-fastly documents a keyless request to a keyed route as 403.
		return apiError(http.StatusForbidden, "Provided credentials are missing or invalid", ""), false
	case e.opts.ReadOnlyKey:
		return apiError(http.StatusForbidden, "Insufficient permissions",
			"the token lacks the purge_select scope"), false
	default:
		return apiError(http.StatusUnauthorized, "Provided credentials are missing or invalid", ""), false
	}
}

func (e *Emulator) checkKeys(keys []string) (reply, bool) {
	if len(keys) == 0 {
		return apiError(http.StatusBadRequest, "Bad request", "no surrogate keys given"), false
	}
	if len(keys) > e.opts.MaxKeysPerCall {
		return apiError(http.StatusBadRequest, "Bad request", fmt.Sprintf(
			"too many surrogate keys: %d given, at most %d per request", len(keys), e.opts.MaxKeysPerCall)), false
	}
	for _, k := range keys {
		if k == "" || len(k) > MaxKeyBytesDefault || strings.ContainsAny(k, " \t\r\n") {
			return apiError(http.StatusBadRequest, "Bad request",
				fmt.Sprintf("invalid surrogate key %q: 1 to %d bytes, no spaces", k, MaxKeyBytesDefault)), false
		}
	}
	return reply{}, true
}

func (e *Emulator) purgeBatch(c *Call) reply {
	if len(c.Body) > 0 && c.Items == nil {
		return apiError(http.StatusBadRequest, "Bad request", `body is not {"surrogate_keys":[...]}`)
	}
	if rep, ok := e.checkKeys(c.Items); !ok {
		return rep
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make(map[string]string, len(c.Items))
	for _, k := range c.Items {
		e.evictKey(k, c.Soft)
		ids[k] = e.purgeID()
	}
	return reply{status: http.StatusOK, body: ids}
}

func (e *Emulator) purgeKey(c *Call) reply {
	if rep, ok := e.checkKeys(c.Items); !ok {
		return rep
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evictKey(c.Items[0], c.Soft)
	return reply{status: http.StatusOK, body: map[string]string{"status": "ok", "id": e.purgeID()}}
}

func (e *Emulator) purgeURL(c *Call) reply {
	host, path, ok := strings.Cut(c.Items[0], "/")
	if !ok || host == "" {
		return apiError(http.StatusBadRequest, "Bad request", "expected /purge/{host}/{path}")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	id := objectID(host, "/"+path)
	if o := e.objects[id]; o != nil {
		e.evict(id, o, c.Soft)
	}
	return reply{status: http.StatusOK, body: map[string]string{"status": "ok", "id": e.purgeID()}}
}

// purgeAll empties the cache. It is the one purge Fastly counts against the
// hourly limit on non-read requests, and it cannot be soft.
func (e *Emulator) purgeAll(c *Call) reply {
	if c.Soft {
		return apiError(http.StatusBadRequest, "Bad request", "purge_all cannot be a soft purge")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.opts.Now()
	if w := now.Truncate(time.Hour); !w.Equal(e.window) {
		e.window, e.used = w, 0
	}
	reset := strconv.FormatInt(e.window.Add(time.Hour).Unix(), 10)
	if e.used >= e.opts.PurgeAllPerHour {
		rep := apiError(http.StatusTooManyRequests, "Too many requests",
			fmt.Sprintf("hourly limit of %d requests exceeded", e.opts.PurgeAllPerHour))
		rep.header = http.Header{"Fastly-Ratelimit-Remaining": {"0"}, "Fastly-Ratelimit-Reset": {reset}}
		return rep
	}
	e.used++
	clear(e.objects)
	return reply{status: http.StatusOK, body: map[string]string{"status": "ok"}, header: http.Header{
		"Fastly-Ratelimit-Remaining": {strconv.Itoa(e.opts.PurgeAllPerHour - e.used)},
		"Fastly-Ratelimit-Reset":     {reset},
	}}
}

// evictKey removes, or marks stale, every object tagged with key. e.mu held.
func (e *Emulator) evictKey(key string, soft bool) {
	for id, o := range e.objects {
		for _, k := range o.keys {
			if k == key {
				e.evict(id, o, soft)
				break
			}
		}
	}
}

func (e *Emulator) evict(id string, o *object, soft bool) {
	if soft {
		o.stale = true
		return
	}
	delete(e.objects, id)
}

func unescapeSegment(s string) (string, error) { return url.PathUnescape(s) }
