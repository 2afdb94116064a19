package akamai

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// authError is the API gateway's answer to a request it cannot
// authenticate, in its RFC 7807 form.
func authError(r *http.Request, status int, detail string) reply {
	title := "Not authorized"
	if status == http.StatusBadRequest {
		title = "Bad request"
	}
	return reply{
		status: status, title: title, contentType: "application/problem+json",
		body: map[string]any{
			"type":     "https://problems.luna.akamaiapis.net/-/pep-authn/request-error",
			"title":    title,
			"status":   status,
			"detail":   detail,
			"instance": "https://" + r.Host + r.RequestURI,
			"method":   r.Method,
		},
	}
}

// authenticate checks the EdgeGrid Authorization header of r, whose body is
// body: the tokens, the timestamp, a fresh nonce and, recomputed from the
// client secret, the signature.
func (e *Emulator) authenticate(r *http.Request, body []byte) (reply, bool) {
	h := r.Header.Get("Authorization")
	params, ok := strings.CutPrefix(h, "EG1-HMAC-SHA256 ")
	if !ok {
		return authError(r, 401, "the Authorization header is missing or not EG1-HMAC-SHA256"), false
	}
	// The client signs its header up to and including "nonce=…;".
	i := strings.Index(h, "signature=")
	if i < 0 {
		return authError(r, 400, "the Authorization header has no signature"), false
	}
	f := map[string]string{}
	for kv := range strings.SplitSeq(params, ";") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			f[k] = v
		}
	}
	if f["client_token"] != e.opts.ClientToken {
		return authError(r, 401, "Invalid authorization client token"), false
	}
	if f["access_token"] != e.opts.AccessToken {
		return authError(r, 401, "Invalid authorization access token"), false
	}
	ts, err := time.Parse("20060102T15:04:05-0700", f["timestamp"])
	if err != nil {
		return authError(r, 400, "Invalid timestamp"), false
	}
	now := e.opts.Now()
	if d := now.Sub(ts); d > e.opts.MaxClockSkew || d < -e.opts.MaxClockSkew {
		return authError(r, 401, "Invalid timestamp: outside the allowed clock skew"), false
	}
	want := e.signature(r, body, f["timestamp"], h[:i])
	if !hmac.Equal([]byte(f["signature"]), []byte(want)) {
		return authError(r, 401, "The signature does not match"), false
	}
	if !e.freshNonce(f["nonce"], now) {
		return authError(r, 401, "Invalid nonce: already used"), false
	}
	return reply{}, true
}

// signature recomputes what the client should have sent. It is written from
// the EdgeGrid specification independently of the provider's signer, so a
// mistake in either shows as a mismatch.
func (e *Emulator) signature(r *http.Request, body []byte, timestamp, signedHeader string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	path := r.RequestURI
	if !strings.HasPrefix(path, "/") {
		path = r.URL.RequestURI()
	}
	var canon []string
	for _, name := range e.opts.HeadersToSign {
		if v := r.Header.Get(name); v != "" {
			canon = append(canon, strings.ToLower(name)+":"+strings.Join(strings.Fields(v), " "))
		}
	}
	hash := ""
	if r.Method == http.MethodPost && len(body) > 0 {
		sum := sha256.Sum256(body[:min(len(body), e.opts.MaxBody)])
		hash = base64.StdEncoding.EncodeToString(sum[:])
	}
	data := r.Method + "\t" + scheme + "\t" + r.Host + "\t" + path + "\t" +
		strings.Join(canon, "\t") + "\t" + hash + "\t" + signedHeader
	key := mac([]byte(e.opts.ClientSecret), timestamp)
	return mac([]byte(key), data)
}

func mac(key []byte, data string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// freshNonce remembers nonces for twice the allowed skew, long enough that
// a replay with a still-valid timestamp is caught.
func (e *Emulator) freshNonce(nonce string, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for n, t := range e.nonces {
		if now.Sub(t) > 2*e.opts.MaxClockSkew {
			delete(e.nonces, n)
		}
	}
	if _, seen := e.nonces[nonce]; seen || nonce == "" {
		return false
	}
	e.nonces[nonce] = now
	return true
}
