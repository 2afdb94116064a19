package httpcache

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// Plan implements purge.Provider. It performs no I/O.
func (p *Provider) Plan(t purge.Target) ([]string, error) {
	// PathEscape leaves these alone, and a cache or the origin may read
	// them as dot segments of the path.
	for _, name := range append([]string{t.ImageID}, t.Renditions...) {
		if name == "" || name == "." || name == ".." {
			return nil, fmt.Errorf("%q is not an image id or rendition name", name)
		}
	}
	switch p.set.Method {
	case MethodBan:
		return p.planBan(t), nil
	case MethodXKey:
		return p.planXKey(t), nil
	default:
		return p.planPurge(t)
	}
}

// planPurge names every rendition on every public host: PURGE cannot match
// a prefix, and neither can Debian's nginx purge module.
func (p *Provider) planPurge(t purge.Target) ([]string, error) {
	if t.NamesUnknown() {
		return nil, errors.New("method " + p.set.Method + " purges renditions by name, " +
			"and no layer listed them; use method ban or xkey, or add a listing layer")
	}
	items := make([]string, 0, len(t.Renditions)*len(p.hosts))
	for _, r := range t.Renditions {
		path := p.path(t.ImageID, r)
		for _, h := range p.hosts {
			items = append(items, kindPurge+" "+h+" "+path)
		}
	}
	return items, nil
}

func (p *Provider) path(id, rendition string) string {
	return strings.NewReplacer("{id}", url.PathEscape(id),
		"{rendition}", url.PathEscape(rendition)).Replace(p.set.PathTemplate)
}

// XKeyHeader returns the xkey header value an origin sends with rendition
// of image id, for the default key templates.
func XKeyHeader(id, rendition string) string {
	return xkey(XKeyImageDefault, id, "") + " " + xkey(XKeyRenditionDefault, id, rendition)
}

func xkey(template, id, rendition string) string {
	return strings.NewReplacer("{id}", url.PathEscape(id),
		"{rendition}", url.PathEscape(rendition)).Replace(template)
}

func (p *Provider) planXKey(t purge.Target) []string {
	if t.All {
		return []string{kindXKey + " " + xkey(p.set.XKeyImage, t.ImageID, "")}
	}
	items := make([]string, 0, len(t.Renditions))
	for _, r := range t.Renditions {
		items = append(items, kindXKey+" "+xkey(p.set.XKeyRendition, t.ImageID, r))
	}
	return items
}

// maxBanRegex keeps one X-Ban-Url well below Varnish's default limit on a
// request header (http_req_hdr_len, 8 KiB); longer lists become more bans.
const maxBanRegex = 4000

// planBan bans, per public host, the image's path prefix when the target
// covers every rendition, else the named renditions. Every part of the
// regex that comes from an id or a rendition is escaped for the URL and
// then quoted, so it matches only itself.
func (p *Provider) planBan(t purge.Target) []string {
	prefix := "^" + regexp.QuoteMeta(p.prefix(t.ImageID))
	regexes := []string{prefix}
	if !t.All {
		regexes = alternations(prefix+"(", ")$", quoted(t.Renditions))
	}
	items := make([]string, 0, len(regexes)*len(p.hosts))
	for _, re := range regexes {
		for _, h := range p.hosts {
			items = append(items, kindBan+" "+h+" "+re)
		}
	}
	return items
}

// prefix is the path every rendition of the image starts with, ending in
// "/" so that image "abc" never reaches "abcd".
func (p *Provider) prefix(id string) string {
	dir := strings.TrimSuffix(p.set.PathTemplate, "{rendition}")
	return strings.Replace(dir, "{id}", url.PathEscape(id), 1)
}

func quoted(renditions []string) []string {
	out := make([]string, len(renditions))
	for i, r := range renditions {
		out[i] = regexp.QuoteMeta(url.PathEscape(r))
	}
	return out
}

// alternations joins alts into head(a|b|...)tail regexes of bounded length.
func alternations(head, tail string, alts []string) []string {
	var out []string
	var group []string
	size := len(head) + len(tail)
	for _, a := range alts {
		if len(group) > 0 && size+len(a)+1 > maxBanRegex {
			out = append(out, head+strings.Join(group, "|")+tail)
			group, size = nil, len(head)+len(tail)
		}
		group = append(group, a)
		size += len(a) + 1
	}
	if len(group) > 0 {
		out = append(out, head+strings.Join(group, "|")+tail)
	}
	return out
}
