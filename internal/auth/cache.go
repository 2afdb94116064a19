package auth

import (
	"crypto/sha256"
	"sync"
	"time"
	"unsafe"
)

// tokenKey is the SHA-256 of a token. Only the hash is kept, so the cache
// never holds a usable token.
type tokenKey [sha256.Size]byte

func keyOf(token string) tokenKey {
	// Hashing the string's bytes in place saves copying a kilobyte-sized
	// token on every request; Sum256 only reads its argument.
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// evictionSample is how many entries are looked at to choose a victim when
// the cache is full: the one expiring first among them goes. Sampling keeps
// an insert O(1) while still preferring entries near the end of their life.
const evictionSample = 8

// tokenCache remembers verified tokens until they expire. A mutex and a map
// are enough: a hit holds the lock for one map lookup.
type tokenCache struct {
	mu      sync.Mutex
	max     int
	entries map[tokenKey]*Principal
}

// newTokenCache returns nil, a cache that never hits, when size is not
// positive.
func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	return &tokenCache{max: size, entries: make(map[tokenKey]*Principal, min(size, 1024))}
}

// get returns the principal of a remembered token that has not expired by
// now. An expired entry is removed on the way.
func (c *tokenCache) get(k tokenKey, now time.Time) *Principal {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.entries[k]
	if p == nil {
		return nil
	}
	if !now.Before(p.Expiry) {
		delete(c.entries, k)
		return nil
	}
	return p
}

// put remembers p, which must expire after now, evicting one entry if full.
func (c *tokenCache) put(k tokenKey, p *Principal, now time.Time) {
	if c == nil || !now.Before(p.Expiry) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		c.evictOne(now)
	}
	c.entries[k] = p
}

// evictOne removes an expired entry if the sample finds one, otherwise the
// sampled entry that expires first. Map iteration order is randomised, which
// makes the sample random.
func (c *tokenCache) evictOne(now time.Time) {
	var victim tokenKey
	var soonest time.Time
	n := 0
	for k, p := range c.entries {
		if !now.Before(p.Expiry) {
			victim = k
			break
		}
		if n == 0 || p.Expiry.Before(soonest) {
			victim, soonest = k, p.Expiry
		}
		if n++; n == evictionSample {
			break
		}
	}
	delete(c.entries, victim)
}

// clear forgets every token, for when a signing key is withdrawn and tokens
// it signed must be checked again.
func (c *tokenCache) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}

func (c *tokenCache) size() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
