package akamai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/imgpurge/imgpurge/internal/providerkit"
	"github.com/imgpurge/imgpurge/internal/purge"
)

// wrapperBytes is the size of {"objects":[ and ]}.
const wrapperBytes = len(`{"objects":[`) + len(`]}`)

// pack splits items into request bodies of at most MaxRequestBytes and
// MaxObjectsPerCall objects, measuring the JSON exactly as it is sent.
// Items that cannot be sent go alone into a batch with Err set.
func (p *Provider) pack(items []string) []providerkit.Batch {
	var out []providerkit.Batch
	var cur []string
	var enc [][]byte
	size := wrapperBytes
	flush := func() {
		if len(cur) > 0 {
			out = append(out, providerkit.Batch{Items: cur, Body: joinBody(enc, size)})
		}
		cur, enc, size = nil, nil, wrapperBytes
	}
	for _, it := range items {
		if err := p.checkItem(it); err != nil {
			out = append(out, providerkit.Batch{Items: []string{it}, Err: err})
			continue
		}
		e := encodeString(it)
		if wrapperBytes+len(e) > p.set.MaxRequestBytes {
			out = append(out, providerkit.Batch{Items: []string{it}, Err: &purge.Error{Code: "ItemTooLarge",
				Message: fmt.Sprintf("a %d-byte object cannot fit a %d-byte request", len(e), p.set.MaxRequestBytes)}})
			continue
		}
		add := len(e)
		if len(cur) > 0 {
			add++ // the comma
		}
		if len(cur) == p.set.MaxObjectsPerCall || size+add > p.set.MaxRequestBytes {
			flush()
			add = len(e)
		}
		cur, enc, size = append(cur, it), append(enc, e), size+add
	}
	flush()
	return out
}

func joinBody(enc [][]byte, size int) []byte {
	b := make([]byte, 0, size)
	b = append(b, `{"objects":[`...)
	b = append(b, bytes.Join(enc, []byte(","))...)
	return append(b, `]}`...)
}

func encodeString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// checkItem refuses what Fast Purge would refuse, before it costs a call
// and the whole request with it: a journaled item from another
// configuration, a non-ASCII or wildcard URL, a malformed tag.
func (p *Provider) checkItem(it string) *purge.Error {
	bad := func(why string) *purge.Error {
		return &purge.Error{Code: "InvalidItem", Message: fmt.Sprintf("%q %s", it, why)}
	}
	if p.set.Type == TypeTag {
		if it == "" || len(it) > maxTagLen {
			return bad("is not a cache tag of 1 to 128 characters")
		}
		for i := 0; i < len(it); i++ {
			if !isTagByte(it[i]) {
				return bad("holds a character Akamai does not allow in a cache tag")
			}
		}
		return nil
	}
	rest, ok := strings.CutPrefix(it, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(it, "http://")
	}
	if !ok || strings.IndexByte(rest, '/') <= 0 {
		return bad("is not an absolute http(s) URL")
	}
	for i := 0; i < len(it); i++ {
		if it[i] <= ' ' || it[i] >= 0x7f || it[i] == '*' {
			return bad("holds a space, a control or non-ASCII byte, or a wildcard")
		}
	}
	return nil
}
