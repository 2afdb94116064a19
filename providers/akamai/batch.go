package akamai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// batch is one request: its items and the exact body that carries them.
type batch struct {
	items []string
	body  []byte
	// err is set when the items cannot be sent at all.
	err *purge.Error
}

// wrapperBytes is the size of {"objects":[ and ]}.
const wrapperBytes = len(`{"objects":[`) + len(`]}`)

// pack splits items into bodies of at most MaxRequestBytes and
// MaxObjectsPerCall objects, measuring the JSON exactly as it is sent.
// Items that cannot be sent go alone into a batch with err set.
func (p *Provider) pack(items []string) []batch {
	var out []batch
	var cur []string
	var enc [][]byte
	size := wrapperBytes
	flush := func() {
		if len(cur) > 0 {
			out = append(out, batch{items: cur, body: joinBody(enc, size)})
		}
		cur, enc, size = nil, nil, wrapperBytes
	}
	for _, it := range items {
		if err := p.checkItem(it); err != nil {
			out = append(out, batch{items: []string{it}, err: err})
			continue
		}
		e := encodeString(it)
		if wrapperBytes+len(e) > p.set.MaxRequestBytes {
			out = append(out, batch{items: []string{it}, err: &purge.Error{Code: "ItemTooLarge",
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

// callResult is what one request achieved.
type callResult struct {
	purgeID, supportID string
	estimatedSeconds   int
	left               []string
	err                *purge.Error
	// halt asks that requests not yet started are not made: the answer
	// (401, 429) would be the same for them.
	halt bool
	// made is false for a request never sent.
	made bool
}

func failed(items []string, e *purge.Error) callResult {
	return callResult{left: items, err: e, made: true}
}

// runCalls makes one request per batch, at most limit at a time. A failing
// request never stops those already running.
func runCalls(ctx context.Context, batches []batch, limit int,
	call func(context.Context, batch) callResult) []callResult {
	res := make([]callResult, len(batches))
	sem := make(chan struct{}, limit)
	var halted atomic.Bool
	var wg sync.WaitGroup
	for i, b := range batches {
		if b.err != nil {
			res[i] = callResult{left: b.items, err: b.err}
			continue
		}
		acquired := false
		select {
		case sem <- struct{}{}:
			acquired = true
		case <-ctx.Done():
		}
		if !acquired || ctx.Err() != nil || halted.Load() {
			if acquired {
				<-sem
			}
			res[i] = callResult{left: b.items}
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			r := call(ctx, b)
			if r.halt {
				halted.Store(true)
			}
			res[i] = r
		})
	}
	wg.Wait()
	return res
}

// pickError chooses the one error a layer reports for several failed
// requests: the first that is not worth retrying, otherwise the first,
// asking for the longest wait any request was told to observe.
func pickError(res []callResult) *purge.Error {
	var first, fatal *purge.Error
	var wait time.Duration
	for _, r := range res {
		if r.err == nil {
			continue
		}
		if first == nil {
			first = r.err
		}
		if !r.err.Retryable && fatal == nil {
			fatal = r.err
		}
		wait = max(wait, r.err.RetryAfter)
	}
	if fatal != nil {
		return fatal
	}
	if first == nil {
		return nil
	}
	e := *first
	e.RetryAfter = wait
	return &e
}
