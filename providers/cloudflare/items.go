package cloudflare

import (
	"errors"
	"fmt"
	"strings"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// Plan implements purge.Provider. A whole-image target becomes prefixes,
// a tag or hosts in those modes; anything else becomes one URL per
// rendition, public host and scheme.
func (p *Provider) Plan(t purge.Target) ([]string, error) {
	if t.All {
		switch p.mode {
		case ModePrefixes:
			return p.prefixes(t.ImageID), nil
		case ModeTags:
			return p.tag(t.ImageID)
		case ModeHosts:
			return p.hostNames(), nil
		}
	}
	if t.NamesUnknown() {
		// Cloudflare has no wildcard for URLs: without a listing layer a
		// whole-image purge needs prefixes or tags mode.
		return nil, errors.New("files mode purges renditions by name, and no layer listed them; " +
			"use mode prefixes or tags, or add a listing layer")
	}
	return p.files(t.ImageID, t.Renditions), nil
}

func (p *Provider) files(id string, renditions []string) []string {
	items := make([]string, 0, len(renditions)*len(p.hosts)*len(p.schemes))
	for _, r := range renditions {
		path := p.path(id) + escapePath(r)
		for _, h := range p.hosts {
			for _, sc := range p.schemes {
				items = append(items, sc+"://"+h+path)
			}
		}
	}
	return items
}

func (p *Provider) prefixes(id string) []string {
	items := make([]string, 0, len(p.hosts))
	seen := map[string]bool{}
	for _, h := range p.hosts {
		// A prefix is host/path, without scheme or port, as Cloudflare
		// documents it: one covers the host under every scheme.
		it := hostname(h) + p.path(id)
		if !seen[it] {
			seen[it] = true
			items = append(items, it)
		}
	}
	return items
}

func (p *Provider) tag(id string) ([]string, error) {
	tag := strings.ReplaceAll(p.tagTemplate, "{id}", id)
	if err := checkTag(tag); err != nil {
		return nil, fmt.Errorf("cache tag for image %q: %w", id, err)
	}
	return []string{tag}, nil
}

// checkTag holds a tag to what a Cache-Tag header can carry: printable
// ASCII, no spaces or commas (the header's separators), at most 1,024
// characters.
func checkTag(t string) error {
	if t == "" || len(t) > 1024 {
		return errors.New("a cache tag is 1 to 1024 characters")
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= 0x20 || c >= 0x7f || c == ',' {
			return errors.New("a cache tag is printable ASCII without spaces or commas")
		}
	}
	return nil
}

func (p *Provider) hostNames() []string {
	items := make([]string, 0, len(p.hosts))
	seen := map[string]bool{}
	for _, h := range p.hosts {
		if n := hostname(h); !seen[n] {
			seen[n] = true
			items = append(items, n)
		}
	}
	return items
}

// path is the public path of an image's renditions, up to and including
// the slash before the rendition name.
func (p *Provider) path(id string) string {
	return strings.ReplaceAll(p.dirTemplate, "{id}", escapePath(id))
}

// escapePath percent-encodes one path segment as browsers and HTML
// generators send it: RFC 3986 pchar (unreserved, sub-delims, ":" and "@")
// stays as it is, and every other byte, UTF-8 of non-ASCII included, is
// written %XX in upper case. So "café 640.jpg" becomes "caf%C3%A9%20640.jpg"
// and "~" stays "~": the cache key holds the URL as clients request it, and
// an over-encoded "%7E" would name a different object. "/", "?", "#" and
// "%" are always encoded, so a name can never reach another path.
func escapePath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isPchar(c) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func isPchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0
}

// Item kinds, as sent in a PurgeCacheRequest.
const (
	kindFiles    = "files"
	kindPrefixes = "prefixes"
	kindTags     = "tags"
	kindHosts    = "hosts"
)

// kindOf tells what an item is. Absolute URLs are files in every mode, so
// the files a prefixes, tags or hosts layer plans for a partial purge are
// sent as such; anything else is the mode's own kind.
func (p *Provider) kindOf(item string) string {
	l := strings.ToLower(item)
	if strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://") {
		return kindFiles
	}
	switch p.mode {
	case ModePrefixes:
		return kindPrefixes
	case ModeTags:
		return kindTags
	case ModeHosts:
		return kindHosts
	}
	return ""
}

// checkItem refuses an item Cloudflare would refuse, so one bad item
// (journaled under an older configuration, say) fails alone instead of
// failing the call that carries it with up to 99 good ones.
func (p *Provider) checkItem(kind, item string) error {
	switch kind {
	case kindFiles:
		_, rest, _ := strings.Cut(item, "://")
		return p.checkHostPath(rest)
	case kindPrefixes:
		if strings.ContainsAny(item, "?#") {
			return fmt.Errorf("a prefix carries no query string")
		}
		return p.checkHostPath(item)
	case kindHosts:
		if strings.ContainsAny(item, "/:") {
			return fmt.Errorf("not a bare host name")
		}
		return p.checkHostPath(item)
	case kindTags:
		return checkTag(item)
	}
	return fmt.Errorf("not an absolute URL, and %s mode sends nothing else", p.mode)
}

func (p *Provider) checkHostPath(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return fmt.Errorf("unencoded character %q", s[i])
		}
	}
	host, _, _ := strings.Cut(s, "/")
	if h := hostname(host); h == "" || !inZone(h, p.zone) {
		return fmt.Errorf("host %q is not in zone %q", host, p.zone)
	}
	return nil
}
